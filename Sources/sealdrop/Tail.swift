import ArgumentParser
import DropProtocol
import Foundation
import GcryptKit
import SealClient
import SealPKI

extension Sealdrop {
    struct Tail: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "tail",
            abstract: "Show new notifications since you last looked; --follow keeps showing them as they land.",
            discussion: """
                Your own posts that the server refused, which never reach the log, are shown too \
                (refused: your post NAME (FILE): REASON), once.

                Examples:
                  sealdrop tail
                  sealdrop tail --follow --json | jq .name
                """)

        @Flag(help: "Keep running and print each notification as it lands.")
        var follow = false

        @Flag(help: "Start from the first notification, not from your cursor.")
        var all = false

        @Flag(help: "Print one JSON object per line.")
        var json = false

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            _ = try about(profile.caPath) { try profile.pinnedAuthority() }
            let feed = try passphrase.feed(for: profile)
            let start = all ? 0 : profile.cursor()
            let show: ([NotificationRecord]) throws -> Void = { records in
                for record in records { print(NotificationText.line(record, json: json)) }
                fflush(nil)
                if let last = records.last { try profile.saveCursor(max(last.seq, profile.cursor())) }
            }
            // The user's own posts the server refused are news too: they never reach the log.
            let log = PostLog(profile: profile)
            let verdicts = Verdicts(transport: feed.transport, user: profile.settings.user)
            var lastLook = Date.distantPast
            let refusals: () throws -> Void = {
                guard Date().timeIntervalSince(lastLook) >= 2, try log.hasPending() else { return }
                lastLook = Date()
                for entry in try log.settle(verdicts) {
                    guard case "refused" = entry.state else { continue }
                    print(Self.refusalLine(entry, json: json))
                }
                fflush(nil)
            }
            if follow {
                _ = try feed.follow(after: start, stop: StopSignal(), deliver: show, wakeUp: refusals) { failure in
                    let news = failure.map { "sealdrop: warning: \($0); still following, trying again every second\n" }
                        ?? "sealdrop: \(profile.settings.server) answers again\n"
                    FileHandle.standardError.write(Data(news.utf8))
                }
            } else {
                try show(try feed.records(after: start))
                try about(log.path) { try refusals() }
            }
        }

        static func refusalLine(_ entry: PostLog.Entry, json: Bool) -> String {
            let reason = entry.reason ?? "no reason given"
            if json {
                let data = try! JSONSerialization.data(
                    withJSONObject: ["type": "refused", "name": entry.name, "reason": reason, "file": entry.file, "id": entry.id],
                    options: [.sortedKeys, .withoutEscapingSlashes])
                return String(decoding: data, as: UTF8.self)
            }
            return "refused: your post \(LogText.escaped(entry.name)) (\(LogText.escaped(entry.file))): \(reason)"
        }
    }

    struct List: Reporting {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the images the server has accepted (latest per name).",
            discussion: """
                Examples:
                  sealdrop list
                  sealdrop list --last 20
                  sealdrop list --json
                """)

        @Flag(help: "Print JSON.")
        var json = false

        @Option(help: ArgumentHelp("Only the N images posted last, newest first (default: every image, by name).", valueName: "N"))
        var last: Int?

        func validate() throws {
            if let last, last < 1 { throw ValidationError("--last must be at least 1 (got \(last))") }
        }

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            _ = try about(profile.caPath) { try profile.pinnedAuthority() }
            let index = ImageIndex(profile: profile)
            let images = try about(index.path) { try index.images(from: passphrase.feed(for: profile), newest: last) }
            if json {
                print(try jsonLine(images))
            } else {
                // Columns aligned, sizes to the right; names escaped for the terminal.
                let rows = images.map { image in
                    [LogText.escaped(image.name, keepBackslash: true), image.owner, image.mediaType,
                     BatchReport.formatSize(UInt64(image.size)), iso8601(image.time)]
                }
                let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    let cells = row.enumerated().map { column, text in
                        let pad = String(repeating: " ", count: widths[column] - text.count)
                        return column == 3 ? pad + text : column == 4 ? text : text + pad
                    }
                    print(cells.joined(separator: "  "))
                }
            }
        }
    }
}

enum NotificationText {
    static func line(_ record: NotificationRecord, json: Bool) -> String {
        if json { return try! jsonLine(record) }
        // Checked as the server writes them, and escaped besides: nothing from the log drives the terminal.
        return "#\(record.seq) \(iso8601(record.time)) \(record.owner) posted \(LogText.escaped(record.name, keepBackslash: true)) "
            + "(\(record.mediaType), \(BatchReport.formatSize(UInt64(record.size))))"
    }
}

extension PassphraseOptions {
    /// The user's key when the profile's server is a gateway, which lets only registered
    /// users in (the key proves the client certificate); nil for a directory, which needs none.
    func keyIfRemote(for profile: Profile) throws -> (any RSA.PrivateOperations)? {
        guard profile.isRemote else { return nil }
        return try privateKey(at: profile.keyPath)
    }

    /// The profile's notification feed.
    func feed(for profile: Profile) throws -> NotificationFeed {
        let key = try keyIfRemote(for: profile)
        return try about(profile.settings.server) { try NotificationFeed(profile: profile, key: key) }
    }
}
