import ArgumentParser
import SealEnvelope

/// `--name`, checked when the command line is parsed, so that a bad name is a usage error.
enum ImageNameOption {
    static func validate(_ name: String?) throws {
        guard let name, let broken = EnvelopeHeader.nameRuleBroken(EnvelopeHeader.normalizedName(name)) else { return }
        throw ValidationError("--name \(name): an image name \(broken)")
    }

    /// `--name` names one image: not every image of a folder.
    static func check(_ name: String?, items: [BatchItem], input: String) throws {
        guard name != nil, items.count != 1 else { return }
        throw UsageFailure(message: "--name names one image, and \(input) holds \(items.count)",
                           hint: "leave --name out to keep each file's own name")
    }
}
