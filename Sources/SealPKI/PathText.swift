/// Path arithmetic on strings. NSString's path helpers trap on one-character paths in this
/// Foundation (`deletingLastPathComponent` of "a" dies with SIGILL), so nothing in sealdrop
/// uses them: every path a user gives goes through these instead.
public enum PathText {
    /// The folder part: "." for a bare name, "/" for an entry of the root.
    public static func directory(of path: String) -> String {
        let trimmed = withoutTrailingSlashes(path)
        guard let slash = trimmed.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        let directory = withoutTrailingSlashes(String(trimmed[..<slash]))
        return directory.isEmpty ? "/" : directory
    }

    /// The last component: "b" for "a/b" and for "a/b/"; "/" for the root itself.
    public static func lastComponent(of path: String) -> String {
        let trimmed = withoutTrailingSlashes(path)
        guard let slash = trimmed.utf8.lastIndex(of: UInt8(ascii: "/")) else { return trimmed }
        let component = String(trimmed[trimmed.utf8.index(after: slash)...])
        return component.isEmpty ? "/" : component
    }

    /// `directory` and `name` joined by exactly one slash.
    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func withoutTrailingSlashes(_ path: String) -> String {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}
