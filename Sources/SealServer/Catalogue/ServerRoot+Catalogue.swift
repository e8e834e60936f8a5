import DropProtocol
import Foundation
import SealPKI

/// Which catalogue a root uses: SQLite in the root (the default), or the PostgreSQL database
/// that `catalogue.url` names, shared by every node of the server.
extension ServerRoot {
    /// The database URL of a root on PostgreSQL. It holds the password: mode 0600.
    public var catalogueURLPath: String { path + "/catalogue.url" }

    public enum CatalogueFailure: Error, CustomStringConvertible {
        case urlReadable(String, mode_t)
        case emptyURL(String)
        case notShared(String)
        case noServer(String)

        public var description: String {
            switch self {
            case .urlReadable(let path, let mode):
                "\(path) holds the catalogue database's password but others may read it (mode \(String(mode, radix: 8))): chmod 600 \(path)"
            case .emptyURL(let path): "\(path) names no database: write its postgres:// URL in it, or remove it to use SQLite"
            case .noServer(let location):
                "the catalogue \(location) belongs to no server yet: make the first node with `sealdrop server init ROOT --database URL`"
            case .notShared(let path):
                "\(path) keeps its catalogue in SQLite on its own disk; only a server whose catalogue is on PostgreSQL (made with `server init ROOT --database URL`) can have more nodes"
            }
        }
    }

    /// The database URL of a root on PostgreSQL, nil for one on SQLite.
    public func catalogueURL() throws -> String? {
        guard let bytes = try KeyFile.readBytesIfPresent(catalogueURLPath, limit: 4096, followSymlinks: false) else { return nil }
        var info = stat()
        if lstat(catalogueURLPath, &info) == 0, info.st_mode & 0o077 != 0 {
            throw CatalogueFailure.urlReadable(catalogueURLPath, info.st_mode & 0o777)
        }
        let url = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !url.isEmpty else { throw CatalogueFailure.emptyURL(catalogueURLPath) }
        return url
    }

    /// How the root's node is named among the server's nodes: `HOST:ROOT`, with the root's
    /// absolute path.
    public var nodeName: String {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let absolute = realpath(path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? path
        return String(cString: host) + ":" + absolute
    }

    /// The store `url` names, or the root's own SQLite file.
    static func store(_ url: String?, root: ServerRoot) throws -> any CatalogueStore {
        if let url { try PostgresStore(url: url) } else { try SQLiteStore(path: root.databasePath) }
    }

    /// The catalogue, opened (and migrated) on demand, checked to be this server's: one bound
    /// to another CA is refused, one bound to none is bound to this root's.
    public func catalogue() throws -> Catalogue {
        let authority = try authorityCertificate()
        let catalogue = Catalogue(store: try Self.store(catalogueURL(), root: self))
        try catalogue.bind(authority: authority.fingerprint.description)
        return catalogue
    }
}
