import ArgumentParser
import DropProtocol
import Foundation
import GcryptKit
import SealClient
import SealEnvelope
import SealPKI
import SealServer
import SealToken

/// A failure tied to a file, printed as `sealdrop: error: FILE: message` plus a hint.
struct FileFailure: Error {
    let path: String
    let underlying: Error
}

/// A failure with its own message and hint.
struct UsageFailure: Error {
    let message: String
    let hint: String?
}

/// A command whose errors are printed the sealdrop way before exiting non-zero.
protocol Reporting: ParsableCommand {
    var verbosity: VerbosityOptions { get }
    func perform() throws
}

extension Reporting {
    func run() throws {
        Verbosity.current = verbosity.level
        do {
            try perform()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Diagnostics.report(error)
            throw ExitCode.failure
        }
    }
}

/// Runs `body`, attributing any error to `path`.
func about<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as FileFailure {
        throw error
    } catch {
        throw FileFailure(path: path, underlying: error)
    }
}

enum Diagnostics {
    static func report(_ error: Error) {
        let (message, hint) = describe(error)
        var text = "sealdrop: error: \(message)\n"
        if let hint { text += "hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func describe(_ error: Error) -> (String, String?) {
        switch error {
        case let failure as FileFailure:
            let (message, hint) = describe(failure.underlying)
            // Most file errors name their path already: never twice.
            if message.hasPrefix(failure.path + ":") || message.hasPrefix(failure.path + " ") { return (message, hint) }
            return ("\(failure.path): \(message)", hint)
        case let failure as UsageFailure:
            return (failure.message, failure.hint)
        case let error as PKIError:
            return (error.description, hint(for: error))
        case let error as TokenError:
            return (error.description, error.hint)
        case let error as FileError:
            switch error {
            case .missing: return (error.description, "check the path; keys are BASE.key and BASE.pub as keygen wrote them")
            default: return (error.description, nil)
            }
        case let error as DaemonLock.AlreadyRunning:
            return (error.description, "one is enough: stop it first, or run `server serve ROOT --no-ingest` beside it")
        case let error as KeyFile.Exists:
            return (error.description, "keep it, or move it away first if you really mean to discard that key")
        case let error as AtomicFile.Failure:
            switch error {
            case .exists: return (error.description, "pass --force to replace it, or choose another path")
            case .system(_, _, let code) where code == ENOSPC:
                return (error.description, "the disk is full; free space and run the command again (nothing was written)")
            case .system: return (error.description, nil)
            }
        case let error as ServerRoot.Failure:
            switch error {
            case .alreadyInitialized: return (error.description, "use another directory, or keep the existing root")
            case .notInitialized: return (error.description, "create one with: sealdrop server init ROOT")
            case .noTLSCertificate: return (error.description, nil)
            }
        case let error as Catalogue.Failure:
            switch error {
            case .nameTaken: return (error.description, "choose another user name")
            case .noSuchUser: return (error.description, "sealdrop server users ROOT lists them")
            case .keyRevoked: return (error.description, "generate a new key (sealdrop keygen) and request again")
            case .belongsToAnotherServer:
                return (error.description, "a root opens only its own server's catalogue; to add a node to that server: sealdrop server init ROOT --join ITS-ROOT")
            }
        case let error as PostgresStore.Failure:
            switch error {
            case .badURL, .unreachable:
                return (error.description, "check that PostgreSQL runs and the URL (--database, or ROOT/catalogue.url) names its host, user and password")
            case .query: return (error.description, nil)
            }
        case let error as Profile.Failure:
            switch error {
            case .noProfile: return (error.description, "register first: sealdrop register --server ROOT --user NAME (SEALDROP_HOME selects the profile)")
            case .notRegistered: return (error.description, "run sealdrop register again; the server must be ingesting (sealdrop server watch ROOT)")
            case .pinMismatch: return (error.description, "do not post or fetch; ask the administrator whether the server's CA really changed")
            }
        case let error as Fetcher.Failure:
            switch error {
            case .refused: return (error.description, "sealdrop list shows the images the server has")
            case .timedOut: return (error.description, "is the server ingesting? (sealdrop server watch ROOT)")
            case .notForMe: return (error.description, "only the answer to your own request can be opened with your key")
            }
        case let error as Quarantine.RequeueFailure:
            return (error.description, "ls ROOT/quarantine; the reason files say why each drop is there")
        case let error as NotificationLog.Untrusted:
            return (error.description, "nothing from the log was shown; tell the server's administrator (it may have been tampered with)")
        case let error as NotificationLog.Corrupt:
            return (error.description, "nothing from the log was shown; tell the server's administrator (sealdrop server fsck ROOT)")
        case let error as Registration.Failure:
            switch error {
            case .alreadyRegistered: return (error.description, "use another --home (or SEALDROP_HOME) for another user")
            case .otherRegistration: return (error.description, "or use another --home (or SEALDROP_HOME) for this one")
            case .refused: return (error.description, "choose another user name")
            case .renewalRefused: return (error.description, "ask the server's administrator (sealdrop server users ROOT shows revocations)")
            case .timedOut: return (error.description, "is the server ingesting? (sealdrop server watch ROOT, or ingest --once from cron); run register again to keep waiting: it keeps your key")
            }
        case let error as EnvelopeError:
            return (error.description, hint(for: error))
        case let error as IOFailure:
            switch error.code {
            case ENOSPC: return (error.description, "the disk is full; free space and run the command again")
            case ENOENT: return (error.description, "check the path")
            case EACCES, EPERM: return (error.description, "check the permissions of the file and its folder")
            default: return (error.description, nil)
            }
        case let error as BatchPlan.Conflict:
            return (error.description, "seal those inputs into different output folders")
        case let error as CryptoError:
            switch error {
            case .invalidKey: return (error.description, "sealdrop uses RSA keys of 2048, 3072 or 4096 bits")
            default: return (error.description, nil)
            }
        case let error as NSError where error.domain == NSCocoaErrorDomain:
            // Foundation's file errors: said as the system call's error, with the path.
            let path = error.userInfo[NSFilePathErrorKey] as? String
            let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError
            let reason = underlying?.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32(underlying!.code)))
                : error.localizedDescription
            return (path.map { "\($0): \(reason)" } ?? reason, nil)
        default:
            return ("\(error)", nil)
        }
    }

    static func hint(for error: EnvelopeError) -> String? {
        switch error {
        case .notForThisKey: "open it with the key it was sealed to (inspect shows the recipient key's fingerprint)"
        case .untrustedSender: "check --ca: it must be the CA that issued the sender's certificate"
        case .unrecognisedMedia: "only images can be sealed; check the file's type"
        case .unusableName: "rename the file, or for a single image give another name with --name"
        case .unsupportedVersion: "a newer sealdrop wrote it; upgrade to open it"
        case .notAnEnvelope, .truncated: "the file is not a complete sealdrop envelope"
        case .tampered, .trailingData, .malformed: "do not trust this file; ask the sender to seal it again"
        }
    }

    static func hint(for error: PKIError) -> String? {
        switch error {
        case .wrongPassphrase:
            "the passphrase is read from --passphrase-fd or --passphrase-file, else SEALDROP_PASSPHRASE, else the terminal prompt"
        case .unencryptedPrivateKey:
            "encrypt it first: openssl pkcs8 -topk8 -scrypt -in KEY -out KEY.enc"
        case .wrongPEMType(let expected, let found) where expected.contains("PRIVATE KEY") && !found.contains("PRIVATE KEY"):
            "that file holds a \(found.lowercased()); give the private key instead (keygen wrote it as BASE.key beside BASE.pub)"
        case .notPEM(let expected), .wrongPEMType(let expected, _):
            "expected a PEM file: " + expected.components(separatedBy: " or ").map { "-----BEGIN \($0)-----" }.joined(separator: " or ")
        case .invalidName:
            "names are 1 to 32 characters: a-z, 0-9, '-' and '_', starting with a letter"
        case .unsupportedAlgorithm:
            "sealdrop accepts RSA keys, RSA-PSS (SHA-256) or PKCS#1 v1.5 (SHA-256) signatures, and PBES2 key files"
        case .badSignature:
            "the file was altered, or signed by a different key than the one it names"
        case .rejectedKey:
            "sealdrop uses RSA keys of 2048, 3072 or 4096 bits; generate one with: sealdrop keygen --out NAME"
        case .certificateRejected, .malformed:
            nil
        }
    }
}
