import SealPKI

/// Where a reader writes an image named by someone else: always directly inside the folder
/// it chose. The name is checked against FORMAT.md §2 again here, whatever it came from (an
/// envelope header, the notification log, the command line), so no name can reach outside
/// the folder, hide itself or read as an option.
public enum OutputPath {
    public static func inside(_ directory: String, name: String) throws -> String {
        try EnvelopeHeader.validate(name: name)
        return PathText.join(directory, name)
    }
}
