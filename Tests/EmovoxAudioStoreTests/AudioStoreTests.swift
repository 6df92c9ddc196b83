import XCTest
import EmovoxCore
import EmovoxAudio
import EmovoxData
@testable import EmovoxAudioStore

final class AudioStoreTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// Clips of random 16-bit samples at 16 kHz, lengths 3000…(3000 + 1700 n): the int16 values are the oracle.
    func makeClips(_ n: Int, in dir: String, seed: UInt64 = 1) throws -> (manifest: Manifest, pcm: [String: [Int16]]) {
        var rng = SeededRNG(seed: seed), clips: [Clip] = [], pcm: [String: [Int16]] = [:]
        for i in 0..<n {
            let v = (0..<(3000 + 1700 * i)).map { _ in Int16(truncatingIfNeeded: Int(rng.int(below: 65536)) - 32768) }
            let path = dir + "/c\(i).wav"
            try WAVReader.encode16(v.map { Float($0) / 32768 }, sampleRate: 16_000).write(to: URL(fileURLWithPath: path))
            clips.append(Clip(id: "c\(i)", speaker: "s\(i % 2)", audio: path))
            pcm["c\(i)"] = v
        }
        return (Manifest(clips: clips), pcm)
    }

    func assertStoreHolds(_ store: AudioStore, _ pcm: [String: [Int16]], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(store.count, pcm.count, file: file, line: line)
        for (id, v) in pcm {
            guard let e = store.entry(id) else { XCTFail("\(id) missing", file: file, line: line); continue }
            XCTAssertEqual(store.int16(e), v, id, file: file, line: line)
            XCTAssertEqual(store.sampleRate(e), 16_000, file: file, line: line)
        }
    }

    func testPackRoundTripsWAVBytesAndCropsEqualInMemoryCrops() throws {
        let d = try tempDir()
        var (manifest, pcm) = try makeClips(5, in: d)
        // Another rate goes through ffmpeg's resampler; a non-audio file and a missing one are skipped and listed.
        let other = (0..<8000).map { Float(sin(Double($0) * 0.05) * 0.5) }
        try WAVReader.encode16(other, sampleRate: 8000).write(to: URL(fileURLWithPath: d + "/rate8k.wav"))
        try Data("not audio".utf8).write(to: URL(fileURLWithPath: d + "/bad.wav"))
        manifest.clips += [Clip(id: "rate8k", speaker: "s", audio: d + "/rate8k.wav"), Clip(id: "bad", speaker: "s", audio: d + "/bad.wav"),
                           Clip(id: "gone", speaker: "s", audio: d + "/gone.wav")]
        let report = try AudioStorePacker.pack(manifest, to: d + "/store", maxFileBytes: 20_000, showProgress: false)
        XCTAssertEqual(report.packed, 6)
        XCTAssertEqual(report.skipped.map(\.id), ["bad", "gone"])
        let listed = try String(contentsOfFile: d + "/store/skipped-all.tsv", encoding: .utf8)
        XCTAssertTrue(listed.contains("bad\t") && listed.contains("RIFF") && listed.contains("gone\t"), listed)
        XCTAssertGreaterThan(try FileManager.default.contentsOfDirectory(atPath: d + "/store").filter { $0.hasSuffix(".s16") }.count, 1)

        let store = try AudioStore(d + "/store")
        pcm["rate8k"] = try AudioLoader.load(d + "/rate8k.wav").map { Int16(max(-32768, min(32767, ($0 * 32768).rounded()))) }
        assertStoreHolds(store, pcm)
        // The data file holds exactly the WAV's data chunk bytes at the indexed offset.
        let r = store.record(store.entry("c3")!)
        let wav = try Data(contentsOf: URL(fileURLWithPath: d + "/c3.wav"))
        let shardBytes = try Data(contentsOf: URL(fileURLWithPath: d + "/store/" + r.file))
        XCTAssertEqual(shardBytes[r.offset..<r.end], wav[44...])

        // Crops read from the mapped shards equal crops of the clip in memory (zeros past the end).
        let memory = InMemoryClipAudio(["c1", "c4"].map { id in pcm[id]!.map { Float($0) / 32768 } })
        let stored = StoreClipAudio(store: store, entries: ["c1", "c4"].map { store.entry($0)! })
        for clip in 0..<2 {
            XCTAssertEqual(stored.sampleCount(clip), memory.sampleCount(clip))
            for (s, c) in [(0, 100), (1234, 2000), (memory.sampleCount(clip) - 50, 300)] {
                XCTAssertEqual(stored.samples(clip, from: s, count: c), memory.samples(clip, from: s, count: c))
            }
            var r1 = SeededRNG(seed: 7), r2 = SeededRNG(seed: 7), r3 = SeededRNG(seed: 7)
            let a = stored.randomCrop(clip, samples: 2500, rng: &r1)
            XCTAssertEqual(a.crop, Spectrogram.randomCrop(memory.clips[clip], samples: 2500, rng: &r2).crop)
            XCTAssertEqual(a.start, memory.randomCrop(clip, samples: 2500, rng: &r3).start)
            XCTAssertEqual(stored.centreCrop(clip, samples: 20_000).crop,
                           Spectrogram.centreCrop(memory.clips[clip], maxSamples: 20_000, minSamples: 20_000).crop)
        }
        XCTAssertEqual(stored.samples(0, from: stored.sampleCount(0) - 10, count: 20).suffix(10), [Float](repeating: 0, count: 10)[...])
    }

    /// An interrupted pack (torn index line, unindexed bytes at the end of the data file) resumes: packed clips are
    /// skipped, the torn tail dropped, and the store comes out as a straight pack would.
    func testInterruptedPackResumes() throws {
        let d = try tempDir()
        let (manifest, pcm) = try makeClips(6, in: d)
        let store = d + "/store"
        _ = try AudioStorePacker.pack(Manifest(clips: Array(manifest.clips.prefix(4))), to: store, showProgress: false)
        // The crash: half of clip c4's samples written, its index line torn.
        let dataFile = store + "/data-all-00000.s16"
        let h = FileHandle(forWritingAtPath: dataFile)!; h.seekToEndOfFile(); h.write(Data(count: 5000)); try h.close()
        let ih = FileHandle(forWritingAtPath: store + "/index-all.tsv")!; ih.seekToEndOfFile(); ih.write(Data("c4\tdata-all-00000.s16\t12".utf8)); try ih.close()
        try FileManager.default.removeItem(atPath: store + "/index.tsv")

        let r = try AudioStorePacker.pack(manifest, to: store, showProgress: false)
        XCTAssertEqual(r.alreadyPacked, 4)
        XCTAssertEqual(r.packed, 2)
        let size = try FileManager.default.attributesOfItem(atPath: dataFile)[.size] as! Int
        XCTAssertEqual(size, 2 * pcm.values.map(\.count).reduce(0, +))
        assertStoreHolds(try AudioStore(store), pcm)
        let again = try AudioStorePacker.pack(manifest, to: store, showProgress: false)  // nothing left to do
        XCTAssertEqual(again.packed, 0)
        XCTAssertEqual(again.alreadyPacked, 6)
    }

    func testShardedPacksMerge() throws {
        let d = try tempDir()
        let (manifest, pcm) = try makeClips(5, in: d)
        let store = d + "/store"
        let a = try AudioStorePacker.pack(manifest, to: store, shard: (0, 2), showProgress: false)
        let b = try AudioStorePacker.pack(manifest, to: store, shard: (1, 2), showProgress: false)
        XCTAssertEqual([a.packed, b.packed], [3, 2])
        XCTAssertThrowsError(try AudioStore(store)) { XCTAssertTrue("\($0)".contains("pack-merge"), "\($0)") }
        XCTAssertEqual(try AudioStorePacker.merge(store), 5)
        assertStoreHolds(try AudioStore(store), pcm)
        // A shard still being written (torn last line) is refused by the merge, naming the file.
        let ih = FileHandle(forWritingAtPath: store + "/index-1-of-2.tsv")!; ih.seekToEndOfFile(); ih.write(Data("c9\tdata".utf8)); try ih.close()
        XCTAssertThrowsError(try AudioStorePacker.merge(store)) { XCTAssertTrue("\($0)".contains("index-1-of-2.tsv"), "\($0)") }
    }
}
