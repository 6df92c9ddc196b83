import Foundation
import EmovoxCore
import EmovoxUtilities

/// One FER+ face: its image file and the 10 annotators' votes (neutral … contempt, unknown, NF).
public struct FERPlusFace: Equatable {
    public var image: String
    public var votes: [Int]

    public init(image: String, votes: [Int]) { self.image = image; self.votes = votes }

    /// The class with the most votes over all 10 columns (ties → the first in FER+ order); nil when that
    /// is unknown or NF, or nobody voted: such faces are left out, as in the FER+ paper.
    public var majority: Int? {
        guard let top = votes.max(), top > 0, let c = votes.firstIndex(of: top), c < FERPlus.emotions.count else { return nil }
        return c
    }

    /// The vote distribution over the 8 emotions (unknown and NF left out, renormalised): the target of
    /// the FER+ paper's cross-entropy mode. nil when no emotion has a vote.
    public var distribution: [Float]? {
        let e = votes.prefix(FERPlus.emotions.count)
        let total = e.reduce(0, +)
        return total > 0 ? e.map { Float($0) / Float(total) } : nil
    }
}

public enum FERPlusSplit: String, CaseIterable {
    case train = "FER2013Train", valid = "FER2013Valid", test = "FER2013Test"

    /// The `Usage` value of fer2013new.csv.
    public var usage: String { switch self { case .train: "Training"; case .valid: "PublicTest"; case .test: "PrivateTest" } }
}

/// Readers for the FER+ release layout (`FER2013Train|Valid|Test/` with header-less `label.csv`) and for
/// `fer2013new.csv` beside a folder of images. Only the rows of a split are held; images are read per batch.
public enum FERPlus {
    /// FER+ class order (the order of the vote columns).
    public static let emotions = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
    public static let voteColumns = emotions + ["unknown", "NF"]

    /// Faces of one split of the release layout under `root`; faces whose majority is unknown/NF are kept
    /// here (callers filter with `majority`), rows with a missing image file are an error naming it.
    public static func read(root: String, split: FERPlusSplit) throws -> [FERPlusFace] {
        let dir = root + "/" + split.rawValue
        let csv = dir + "/label.csv"
        if FileManager.default.fileExists(atPath: csv) { return try readLabelCSV(csv, imageDir: dir) }
        let release = root + "/fer2013new.csv"
        if FileManager.default.fileExists(atPath: release) { return try readRelease(release, images: root, split: split) }
        throw EmovoxError("no FER+ data: expected \(split.rawValue)/label.csv or fer2013new.csv", file: root)
    }

    /// `image,"(x, y, w, h)",v1,…,v10` without a header.
    public static func readLabelCSV(_ path: String, imageDir: String) throws -> [FERPlusFace] {
        try lines(path).enumerated().compactMap { n, line -> FERPlusFace? in
            if line.isEmpty { return nil }
            // The box column is quoted and holds commas: the votes are the last 10 fields.
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 12, let votes = parseVotes(fields.suffix(10)) else {
                throw EmovoxError("line \(n + 1): expected image,\"(x, y, w, h)\" and 10 vote counts", file: path)
            }
            return FERPlusFace(image: imageDir + "/" + fields[0], votes: votes)
        }
    }

    /// fer2013new.csv: `Usage,Image name,<10 votes>` with a header; rows without an image name are skipped.
    /// Images are looked up in `images/<split folder>/` when that exists, else in `images/`.
    public static func readRelease(_ path: String, images: String, split: FERPlusSplit) throws -> [FERPlusFace] {
        let all = try lines(path)
        guard let header = all.first, header.hasPrefix("Usage,") else { throw EmovoxError("expected a header starting with 'Usage,'", file: path) }
        var dir = images + "/" + split.rawValue
        var isDir: ObjCBool = false
        if !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) { dir = images }
        return try all.dropFirst().enumerated().compactMap { n, line -> FERPlusFace? in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 12, let votes = parseVotes(f.suffix(10)) else {
                if line.isEmpty { return nil }
                throw EmovoxError("line \(n + 2): expected Usage, image name and 10 vote counts", file: path)
            }
            guard f[0] == split.usage, !f[1].isEmpty else { return nil }
            return FERPlusFace(image: dir + "/" + f[1], votes: votes)
        }
    }

    static func parseVotes<S: Sequence>(_ fields: S) -> [Int]? where S.Element == String {
        let v = fields.map { Int($0) }
        return v.contains(nil) || v.count != 10 ? nil : v.map { $0! }
    }

    static func lines(_ path: String) throws -> [String] {
        guard let d = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read", file: path) }
        return String(decoding: d, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
    }
}
