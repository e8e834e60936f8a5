import DropProtocol
import Foundation
import GRDB
import SealEnvelope
import SealPKI

/// The server's own failures that pass (a full disk, too many open files, a busy or full
/// database): a drop that meets one is left for a later run, never quarantined for it.
enum Transient {
    static let codes: Set<Int32> = [ENOSPC, EDQUOT, EIO, EMFILE, ENFILE, ENOMEM, EAGAIN, EINTR]

    static func isTransient(_ error: Error) -> Bool {
        switch error {
        case let failure as IOFailure: codes.contains(failure.code)
        case AtomicFile.Failure.system(_, _, let code): codes.contains(code)
        case let failure as DatabaseError:
            [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_NOMEM, .SQLITE_CANTOPEN].contains(failure.resultCode)
        default: false
        }
    }
}
