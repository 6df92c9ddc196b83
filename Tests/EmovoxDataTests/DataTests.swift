import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxData

final class DataTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }
    func touch(_ p: String) throws {
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: p, contents: Data([0]))
    }

    func testRAVDESSCREMADEmoDBNamesAndAutodetect() throws {
        let d = try tempDir()
        for f in ["03-01-05-02-01-01-12.wav", "03-01-02-01-02-02-03.wav", "03-01-01-01-01-01-03.wav"] { try touch("\(d)/rav/Actor_x/\(f)") }
        let rav = try CorpusReader.read(d + "/rav")
        XCTAssertEqual(rav.clips.map(\.label), ["neutral", "calm", "angry"])
        XCTAssertEqual(rav.clips.map(\.speaker), ["actor03", "actor03", "actor12"])
        XCTAssertEqual(rav.clips[2].extra?["gender"], "female")
        for f in ["1001_DFA_ANG_XX.wav", "1001_DFA_ANG_XX.flv", "1002_IEO_HAP_HI.wav"] { try touch("\(d)/crema/\(f)") }
        let crema = try CorpusReader.read(d + "/crema")
        XCTAssertEqual(crema.clips.count, 2)
        XCTAssertEqual(crema.clips[0].video, "\(d)/crema/1001_DFA_ANG_XX.flv")  // the same-named video becomes the face source
        XCTAssertEqual(crema.clips.map(\.label), ["angry", "happy"])
        for f in ["03a01Fa.wav", "16b10Wb.wav"] { try touch("\(d)/emodb/wav/\(f)") }
        XCTAssertEqual(try CorpusReader.read(d + "/emodb").clips.map(\.label), ["happy", "angry"])
    }

    func testVoxCelebIEMOCAPAndGenericCSV() throws {
        let d = try tempDir()
        try touch("\(d)/vox/id10001/1zcIwhmdeo4/00001.wav"); try touch("\(d)/vox/id10001/1zcIwhmdeo4/00001.mp4")
        try touch("\(d)/vox/id10002/abc/00002.wav"); try touch("\(d)/vox/id10002/abc/00002/0001.jpg")
        let vox = try CorpusReader.read(d + "/vox", format: .voxceleb)
        XCTAssertEqual(vox.clips.map(\.id), ["id10001/1zcIwhmdeo4/00001", "id10002/abc/00002"])
        XCTAssertNotNil(vox.clips[0].video); XCTAssertEqual(vox.clips[1].faces, "\(d)/vox/id10002/abc/00002")
        try touch("\(d)/iem/Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")
        try touch("\(d)/iem/Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav")
        try touch("\(d)/iem/Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F002.wav")
        try FileManager.default.createDirectory(atPath: "\(d)/iem/Session1/dialog/EmoEvaluation", withIntermediateDirectories: true)
        try "[6.2 - 8.2]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n[10 - 11]\tSes01F_impro01_M001\texc\t[3, 3, 3]\n[12 - 13]\tSes01F_impro01_F002\tfru\t[3, 3, 3]\n"
            .write(toFile: "\(d)/iem/Session1/dialog/EmoEvaluation/Ses01F_impro01.txt", atomically: true, encoding: .utf8)
        let iem = try CorpusReader.read(d + "/iem")
        XCTAssertEqual(iem.clips.map(\.label), ["neutral", "happy"])  // excited → happy, frustrated dropped
        XCTAssertEqual(iem.clips.map(\.speaker), ["Ses01F", "Ses01M"])
        try "file,speaker,emotion,notes\na.wav,s1,Anger,x\nsub/b.wav,s2,neutral,\n".write(toFile: "\(d)/list.csv", atomically: true, encoding: .utf8)
        let csv = try CorpusReader.read(d + "/list.csv")
        XCTAssertEqual(csv.clips.map(\.audio), ["\(d)/a.wav", "\(d)/sub/b.wav"])
        XCTAssertEqual(csv.clips.map(\.label), ["angry", "neutral"])
    }

    func testManifestRoundTripsRelativePathsAndRejectsBadInput() throws {
        let d = try tempDir()
        let m = Manifest(clips: [Clip(id: "a", speaker: "s1", audio: d + "/x/a.wav", video: "/elsewhere/a.mp4", label: "happy", split: "train"),
                                 Clip(id: "b,\"q\"", speaker: "s2", audio: d + "/b.wav")])
        for ext in ["jsonl", "csv"] {
            try m.write("\(d)/m.\(ext)")
            XCTAssertEqual(try Manifest.read("\(d)/m.\(ext)"), m, ext)
        }
        XCTAssertTrue(try String(contentsOfFile: "\(d)/m.jsonl", encoding: .utf8).contains("\"audio\":\"x/a.wav\""))
        try "id,speaker\n1,2\n".write(toFile: "\(d)/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Manifest.read("\(d)/bad.csv")) { XCTAssertTrue("\($0)".contains("missing column 'audio'")) }
        try "{\"id\":\"a\",\"speaker\":\"s\",\"audio\":\"a.wav\"}\n{\"id\":\"a\",\"speaker\":\"s\",\"audio\":\"b.wav\"}\n".write(toFile: "\(d)/dup.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Manifest.read("\(d)/dup.jsonl")) { XCTAssertTrue("\($0)".contains("duplicate clip id 'a'")) }
        XCTAssertThrowsError(try m.validate(source: "m.jsonl")) { XCTAssertTrue("\($0)".contains("missing")) }
    }

    func testSplitsFollowThePapersRule() throws {
        var clips: [Clip] = []
        for s in 0..<10 { for k in 0..<12 { clips.append(Clip(id: "\(s)-\(k)", speaker: "spk\(s)", audio: "x", extra: ["gender": s % 2 == 0 ? "male" : "female"])) } }
        let m = Manifest(clips: clips)
        let a = try Splitter.assign(m, unheardSpeakers: 2, heardFraction: 0.25, seed: 1)
        XCTAssertEqual(a, try Splitter.assign(m, unheardSpeakers: 2, heardFraction: 0.25, seed: 1))
        XCTAssertNotEqual(a, try Splitter.assign(m, unheardSpeakers: 2, heardFraction: 0.25, seed: 2))
        let unheard = Set(a.clips(in: "unheard").map(\.speaker))
        XCTAssertEqual(unheard.count, 2)
        let genders = Set(unheard.map { sp in a.clips.first(where: { $0.speaker == sp })!.extra!["gender"]! })
        XCTAssertEqual(genders.count, 2)  // one of each gender
        XCTAssertTrue(Set(a.clips(in: "train").map(\.speaker)).isDisjoint(with: unheard))
        XCTAssertEqual(Set(a.clips(in: "heard").map(\.speaker)), Set(a.clips(in: "train").map(\.speaker)))
        XCTAssertEqual(a.clips(in: "heard").count, 8 * 3)
        XCTAssertThrowsError(try Splitter.assign(m, unheardSpeakers: 10, heardFraction: 0.2, seed: 0))
    }

    /// --unheard as a count or a fraction; the default never takes more than half; every split keeps a speaker.
    func testUnheardCountOrFraction() throws {
        XCTAssertEqual(try UnheardSpec("3").amount, .count(3))
        XCTAssertEqual(try UnheardSpec("0.25").amount, .fraction(0.25))
        for bad in ["0", "-2", "1.5", "abc", "0.0"] { XCTAssertThrowsError(try UnheardSpec(bad), bad) }
        // Default 4, capped at half: 24 actors → 4, 6 voices → 3, 3 → 1, 2 → 1.
        XCTAssertEqual(try [24, 6, 3, 2].map { try UnheardSpec.standard.resolve(speakers: $0) }, [4, 3, 1, 1])
        // Fractions round, but keep one speaker on each side.
        XCTAssertEqual(try [24, 6, 3, 2].map { try UnheardSpec("0.2").resolve(speakers: $0) }, [5, 1, 1, 1])
        XCTAssertEqual(try UnheardSpec("0.9").resolve(speakers: 3), 2)
        // Explicit counts are honoured up to all but one speaker.
        XCTAssertEqual(try UnheardSpec("5").resolve(speakers: 6), 5)
        XCTAssertThrowsError(try UnheardSpec("6").resolve(speakers: 6))
        XCTAssertThrowsError(try UnheardSpec.standard.resolve(speakers: 1)) { XCTAssertTrue("\($0)".contains("at least 2 speakers")) }

        var clips: [Clip] = []
        for s in 0..<6 { for k in 0..<8 { clips.append(Clip(id: "\(s)-\(k)", speaker: "voice\(s)", audio: "x")) } }
        let a = try Splitter.assign(Manifest(clips: clips), unheard: UnheardSpec(amount: .fraction(1.0 / 3)), heardFraction: 0.2, seed: 0)
        XCTAssertEqual(Set(a.clips(in: "unheard").map(\.speaker)).count, 2)
        XCTAssertEqual(Set(a.clips(in: "train").map(\.speaker)).count, 4)
        XCTAssertEqual(Set(a.clips(in: "heard").map(\.speaker)).count, 4)
    }

    func testEmotionVocabulary() {
        let fer = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        let ferplus = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
        XCTAssertEqual(Emotion.index(of: "ANG", in: fer), 0)
        XCTAssertEqual(Emotion.index(of: "calm", in: fer), 6)
        XCTAssertEqual(Emotion.index(of: "calm", in: fer, calmAsNeutral: false), nil)
        XCTAssertEqual(Emotion.index(of: "angry", in: ferplus), 4)
        XCTAssertEqual(Emotion.index(of: "surprised", in: ferplus), 2)
        XCTAssertNil(Emotion.index(of: "boredom", in: fer))
    }

    func testRealRAVDESS() throws {
        guard let dir = SharedData.path("data/ravdess16k", from: #filePath) else { throw XCTSkip("needs ../shared/data/ravdess16k") }
        let m = try CorpusReader.read(dir)
        XCTAssertEqual(m.clips.count, 1200)
        XCTAssertEqual(m.speakers.count, 20)
        let counts = Dictionary(grouping: m.clips, by: { $0.label ?? "" }).mapValues(\.count)
        // labels.csv: 60 clips per actor; neutral has only normal intensity (4 per actor), the others 8.
        XCTAssertEqual(counts["neutral"], 80); XCTAssertEqual(counts["angry"], 160); XCTAssertEqual(counts.count, 8)
        let csv = try String(contentsOfFile: dir + "/labels.csv", encoding: .utf8)
        XCTAssertEqual(CSV.parse(csv).dropFirst().filter { $0.count > 3 && $0[3] == "neutral" }.count, 80)
    }
}
