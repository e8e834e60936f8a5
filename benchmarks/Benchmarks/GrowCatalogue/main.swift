// grow-catalogue ROOT COUNT: adds COUNT images to the catalogue of the server at ROOT, each a
// copy of the image ingested last under a new name (scale-0000001.png, ...) and a new envelope
// id, recorded through Catalogue.record as ingestion records them: rows, replay ids and
// notification lines with their hash chain. The blob is shared, so a million images need no
// million envelopes; `sealdrop server ingest ROOT --once` then writes the log lines and signs
// the head as after any crash between a commit and the log.
import Foundation
import SealServer
import DropProtocol

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]), count > 0 else {
    FileHandle.standardError.write(Data("usage: grow-catalogue ROOT COUNT\n".utf8))
    exit(2)
}
do {
    let catalogue = try ServerRoot(path: arguments[1]).catalogue()
    guard let template = try catalogue.images().max(by: { $0.ingestedAt < $1.ingestedAt }) else {
        FileHandle.standardError.write(Data("grow-catalogue: \(arguments[1]) has no image to copy; ingest one first\n".utf8))
        exit(1)
    }
    let batch = 20_000
    var added = 0
    while added < count {
        let now = Date()
        let records = (added..<min(count, added + batch)).map { index in
            ImageRecord(name: String(format: "scale-%07d.png", index + 1), owner: template.owner, mediaType: template.mediaType,
                        width: template.width, height: template.height, size: template.size, blob: template.blob,
                        envelopeID: (0..<16).map { _ in UInt8.random(in: 0...255) }, createdAt: now, ingestedAt: now,
                        inboxName: "grown-\(index + 1)", senderKey: template.senderKey)
        }
        let refused = try catalogue.record(records)
        guard refused.isEmpty else {
            FileHandle.standardError.write(Data("grow-catalogue: \(refused.count) refused, e.g. \(refused.first!); grow a fresh root\n".utf8))
            exit(1)
        }
        added += records.count
    }
    print("added \(added) images to \(arguments[1])")
} catch {
    FileHandle.standardError.write(Data("grow-catalogue: \(error)\n".utf8))
    exit(1)
}
