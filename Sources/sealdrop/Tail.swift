import ArgumentParser
import DropProtocol
import Foundation
import GcryptKit
import SealClient
import SealPKI

extension Sealdrop {
    struct Tail: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Show new notifications since you last looked; --follow keeps showing them as they land.")

        @Flag(help: "Keep running and print each notification as it lands.")
        var follow = false

        @Flag(help: "Start from the first notification, not from your cursor.")
        var all = false

        @Flag(help: "Print one JSON object per line.")
        var json = false

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

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
            if follow {
                _ = try feed.follow(after: start, stop: StopSignal(), deliver: show)
            } else {
                try show(try feed.records(after: start))
            }
        }
    }

    struct List: Reporting {
        static let configuration = CommandConfiguration(abstract: "List the images the server has accepted (latest per name).")

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            _ = try about(profile.caPath) { try profile.pinnedAuthority() }
            var latest: [String: NotificationRecord] = [:]
            for record in try passphrase.feed(for: profile).records(after: 0) { latest[record.name] = record }
            let images = latest.values.sorted { $0.name < $1.name }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(images), as: UTF8.self))
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
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            return String(decoding: try! encoder.encode(record), as: UTF8.self)
        }
        // Checked as the server writes them, and escaped besides: nothing from the log drives the terminal.
        return "#\(record.seq) \(iso8601(record.time)) \(record.owner) posted \(LogText.escaped(record.name, keepBackslash: true)) "
            + "(\(record.mediaType), \(BatchReport.formatSize(UInt64(record.size))))"
    }
}

extension PassphraseOptions {
    /// The user's key when the profile's server is a gateway, which lets only registered
    /// users in (the key proves the client certificate); nil for a directory, which needs none.
    func keyIfRemote(for profile: Profile) throws -> RSA.PrivateKey? {
        guard profile.isRemote else { return nil }
        return try about(profile.keyPath) { try KeyFile.readPrivateKey(at: profile.keyPath, passphrase: existing(for: profile.keyPath)) }
    }

    /// The profile's notification feed.
    func feed(for profile: Profile) throws -> NotificationFeed {
        let key = try keyIfRemote(for: profile)
        return try about(profile.settings.server) { try NotificationFeed(profile: profile, key: key) }
    }
}
