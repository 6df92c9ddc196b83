import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxData

/// Naming in a video folder corpus (no decoding here: the files are placeholders; EmovoxAudioStoreTests scans real videos).
final class VideoFolderTests: XCTestCase {
    func tree(_ files: [String]) throws -> String {
        let d = NSTemporaryDirectory() + "emovox-videos-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        for f in files {
            try FileManager.default.createDirectory(atPath: ((d + "/" + f) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: d + "/" + f, contents: Data([0]))
        }
        return d
    }

    func testIdsSpeakersAndLabelsFromNamingSchemes() throws {
        let d = try tree(["Actor_01/01-01-05-02-01-01-01.mp4", "crema/1001_DFA_ANG_XX.flv", "mead/M003_level_1_happy_024.mp4",
                          "vox/id00012/abcDEF/00001.mp4", "talks/alice/interview.mkv", "talks/bob/lecture 1.webm", "notes.txt"])
        XCTAssertEqual(try CorpusReader.format(of: d), .video)
        let found = try CorpusReader.videoFolder(d)
        let c = found.manifest.clips
        XCTAssertEqual(c.map(\.id), ["Actor_01/01-01-05-02-01-01-01", "crema/1001_DFA_ANG_XX", "mead/M003_level_1_happy_024",
                                     "talks/alice/interview", "talks/bob/lecture 1", "vox/id00012/abcDEF/00001"])
        XCTAssertEqual(c.map(\.speaker), ["actor01", "1001", "M003", "talks/alice", "talks/bob", "id00012"])
        XCTAssertEqual(c.map(\.label), ["angry", "angry", "happy", nil, nil, nil])
        XCTAssertEqual(c[0].extra?["modality"], "audio-video")
        XCTAssertEqual(c[2].extra?["level"], "1")
        XCTAssertTrue(c.allSatisfy { $0.audio == $0.video && $0.audio.hasPrefix(d) })
        XCTAssertEqual(found.notes, [])

        XCTAssertEqual(try CorpusReader.videoFolder(d, speaker: .dir).manifest.clips.map(\.speaker),
                       ["Actor_01", "crema", "mead", "talks/alice", "talks/bob", "vox/id00012/abcDEF"])
        XCTAssertEqual(try CorpusReader.videoFolder(d, speaker: .file).manifest.clips.map(\.speaker), c.map(\.id))
        // A pattern: its first group on the path under the root; a video it does not match is listed, not guessed.
        let byPattern = try CorpusReader.videoFolder(d, speaker: try SpeakerRule("^talks/([^/]+)/"))
        XCTAssertEqual(byPattern.manifest.clips.map(\.speaker), ["alice", "bob"])
        XCTAssertEqual(byPattern.skipped.count, 4)
        XCTAssertThrowsError(try SpeakerRule("no-group")) { XCTAssertTrue("\($0)".contains("capture group"), "\($0)") }
        XCTAssertThrowsError(try SpeakerRule("(unclosed")) { XCTAssertTrue("\($0)".contains("regular expression"), "\($0)") }
    }

    func testFlatFolderSaysEachVideoIsItsOwnSpeaker() throws {
        let d = try tree(["a.mp4", "b.mov", "1001_DFA_SAD_XX.flv"])
        let found = try CorpusReader.videoFolder(d)
        XCTAssertEqual(found.manifest.clips.map(\.speaker), ["1001", "a", "b"])  // the CREMA-D name says who speaks
        XCTAssertEqual(found.notes.count, 1)
        XCTAssertTrue(found.notes[0].contains("2 video(s) lie directly in"), found.notes[0])
    }

    func testExistingLayoutsAreStillRecognised() throws {
        // Audio files beside the videos: the corpus's own layout, as before.
        XCTAssertEqual(try CorpusReader.format(of: try tree(["1001_DFA_ANG_XX.flv", "1002_DFA_ANG_XX.mp3"])), .cremad)
        XCTAssertEqual(try CorpusReader.format(of: try tree(["Actor_01/03-01-05-02-01-01-01.wav"])), .ravdess)
        XCTAssertEqual(try CorpusReader.format(of: try tree(["id10001/v/00001.wav", "id10001/v/00001.mp4"])), .voxceleb)
    }
}
