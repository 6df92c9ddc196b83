import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities

/// Seeded mutation fuzzing: each input is a seed file damaged by 1–4 random edits (truncation, bit flips,
/// random or boundary bytes and integers, deleted or duplicated ranges, inserted or swapped-in text tokens).
/// The suite runs a few thousand inputs per parser; `scripts/fuzz.sh` scales that up with EMOVOX_FUZZ_SCALE
/// and varies EMOVOX_FUZZ_SEED. The input being parsed is always on disk (under $TMPDIR/emovox-fuzz), so
/// a crash leaves it behind to reproduce.
struct Mutator {
    var rng: SeededRNG
    static let integers: [UInt64] = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1_0000,
                                     0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x7fff_ffff_ffff_ffff, UInt64.max]
    static let tokens = ["-1", "0", "1e308", "-1e308", "nan", "inf", "99999999999999999999", "4294967296", "\"", "\\", "{", "}",
                         "[", "]", ",", ":", "null", "true", "\n", "\r\n", "\0", "<", ">", "</", "&", "'", "é", "\u{FFFF}", "  "]

    init(seed: UInt64) { rng = SeededRNG(seed: seed) }

    /// Positions favour the first KiB: headers are where parsers make decisions.
    mutating func position(_ count: Int) -> Int {
        guard count > 0 else { return 0 }
        return rng.int(below: 2) == 0 ? rng.int(below: min(count, 1024)) : rng.int(below: count)
    }

    mutating func mutate(_ seed: [UInt8]) -> [UInt8] {
        var b = seed
        for _ in 0..<(1 + rng.int(below: 4)) {
            switch rng.int(below: 9) {
            case 0: b = Array(b.prefix(position(b.count + 1)))
            case 1 where !b.isEmpty: let i = position(b.count); b[i] ^= UInt8(1 << rng.int(below: 8))
            case 2 where !b.isEmpty: b[position(b.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 3 where b.count >= 8:
                let width = [1, 2, 4, 8][rng.int(below: 4)], i = position(b.count - width + 1)
                let v = Self.integers[rng.int(below: Self.integers.count)]
                for k in 0..<width { b[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            case 4 where !b.isEmpty:
                let i = position(b.count), n = min(b.count - i, 1 + rng.int(below: 64)); b.removeSubrange(i..<(i + n))
            case 5 where !b.isEmpty:
                let i = position(b.count), n = min(b.count - i, 1 + rng.int(below: 64)); b.insert(contentsOf: b[i..<(i + n)], at: position(b.count))
            case 6: b.insert(contentsOf: Array(Self.tokens[rng.int(below: Self.tokens.count)].utf8), at: position(b.count + 1))
            case 7:  // a number in text becomes something else
                let i = position(b.count)
                if let d = b[i...].firstIndex(where: { (48...57).contains($0) }) {
                    let end = b[d...].firstIndex(where: { !(48...57).contains($0) && $0 != 46 }) ?? b.count
                    b.replaceSubrange(d..<end, with: Array(Self.tokens[rng.int(below: 8)].utf8))
                }
            default: b = Array(b.prefix(max(0, b.count - 1 - rng.int(below: 16))))
            }
        }
        return b.count > 4 * seed.count + 4096 ? Array(b.prefix(4 * seed.count + 4096)) : b
    }
}

enum FuzzSettings {
    static let env = ProcessInfo.processInfo.environment
    /// Multiplies every parser's input count (scripts/fuzz.sh: 100 by default).
    static let scale = Double(env["EMOVOX_FUZZ_SCALE"] ?? "") ?? 1
    static let seed = UInt64(env["EMOVOX_FUZZ_SEED"] ?? "") ?? 0
    /// Multiplies the hang limits: a debug build under AddressSanitizer (scripts/fuzz.sh --asan) parses ~10× slower.
    static let slowdown = Double(env["EMOVOX_FUZZ_SLOWDOWN"] ?? "") ?? 1
    static let dir: String = {
        let d = NSTemporaryDirectory() + "emovox-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()
}

extension XCTestCase {
    /// Feeds `count` inputs (the seeds themselves first, then mutants) to `parse(path)`. Every input must
    /// either parse or fail with an EmovoxError naming the file; none may take over `hangSeconds`.
    /// A crash kills the test process and leaves the input at `path`.
    func fuzz(_ parser: String, ext: String, seeds: [[UInt8]], count base: Int, hangSeconds: Double = 2,
              names: ((String) -> [String])? = nil, _ parse: (_ path: String) throws -> Void) {
        let count = max(seeds.count, Int(Double(base) * FuzzSettings.scale))
        var m = Mutator(seed: FuzzSettings.seed &+ UInt64(parser.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) } & 0xffff_ffff))
        let path = FuzzSettings.dir + "/fuzz-\(parser).\(ext)"
        var rejected = 0, slowest = 0.0
        for i in 0..<count {
            let input = i < seeds.count ? seeds[i] : m.mutate(seeds[m.rng.int(below: seeds.count)])
            try? Data(input).write(to: URL(fileURLWithPath: path))  // plain write: createFile's atomic rename costs more than most parses
            let t0 = DispatchTime.now().uptimeNanoseconds
            do { try parse(path) } catch let e as EmovoxError {
                rejected += 1
                if i < seeds.count { XCTFail("\(parser): seed \(i) must parse: \(e)") }
                let wanted = names?(path) ?? [path]
                if !wanted.contains(where: { e.description.contains($0) }) {
                    XCTFail("\(parser) input \(i): the error does not name the file: \(e)"); break
                }
            } catch {
                XCTFail("\(parser) input \(i): \(type(of: error)) instead of an EmovoxError: \(error)"); break
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            slowest = max(slowest, dt)
            if dt > hangSeconds * FuzzSettings.slowdown { XCTFail("\(parser) input \(i) took \(dt) s (hang?)"); break }
        }
        try? FileManager.default.removeItem(atPath: path)
        print("fuzz \(parser): \(count) inputs, \(rejected) rejected with an error naming the file, \(count - rejected) accepted, slowest \(String(format: "%.1f", slowest * 1000)) ms")
    }
}

extension XCTestCase {
    /// A fresh folder removed after the test.
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-reliability-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// safetensors bytes written without any check, as a damaged or hostile file would be (F32 only).
    func rawSafetensors(_ t: [String: Tensor], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var blob = Data()
        for k in t.keys.sorted() {
            let begin = blob.count
            t[k]!.data.withUnsafeBytes { blob.append(contentsOf: $0) }
            header[k] = ["dtype": "F32", "shape": t[k]!.shape, "data_offsets": [begin, blob.count]]
        }
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Data($0) } + json + blob
    }
}
