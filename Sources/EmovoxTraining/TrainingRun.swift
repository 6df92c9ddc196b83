import Foundation
import EmovoxCore
import EmovoxUtilities

/// The run folder of a training job (`distill`, `teacher-train`) and the parts every training loop shares:
/// - one resume file (`resume.safetensors`: network, optimiser and trainer state together, written atomically), so a
///   kill at any moment leaves the previous checkpoint or this one, never a mix;
/// - the files people read (weights, `trainer_state.json`, `epochs.csv`), all derived from the resume file after it;
///   a resumed run rewrites them first, since a kill between the two leaves them one checkpoint behind;
/// - `timing.csv`, the only file with wall-clock figures, so the others are the same bytes for the same seed and data;
/// - the configuration check on resume, and the seeded epoch shuffle.
public struct TrainingRun {
    public let directory: String
    public var resumePath: String { directory + "/resume.safetensors" }
    public var statePath: String { directory + "/trainer_state.json" }
    public var epochsPath: String { directory + "/epochs.csv" }
    public var timingPath: String { directory + "/timing.csv" }

    static let format = "emovox-resume-v1"

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// What a resume file holds.
    public struct Snapshot<State> {
        public var network: [String: Tensor]
        public var optimizer: [String: Tensor]
        public var state: State
        public var metadata: [String: String]
    }

    /// The resume file first (atomic: the one source of truth), then `reports`, which write the human-readable files
    /// from the same state. Nothing time-dependent may go into `state` or `metadata`.
    public func checkpoint<State: Encodable>(network: [String: Tensor], optimizer: [String: Tensor], state: State,
                                             metadata: [String: String] = [:], reports: () throws -> Void) throws {
        var tensors: [String: Tensor] = [:]
        for (k, t) in network { tensors["model." + k] = t }
        for (k, t) in optimizer { tensors["optimizer." + k] = t }
        var meta = metadata
        meta["format"] = Self.format
        meta["trainer_state"] = try CanonicalJSON.string(state)
        try Safetensors.write(tensors, metadata: meta, to: resumePath)
        try reports()
    }

    /// The resume file's content, or nil when there is none (a new run).
    public func loadResume<State: Decodable>(_ type: State.Type) throws -> Snapshot<State>? {
        guard FileManager.default.fileExists(atPath: resumePath) else { return nil }
        let (tensors, meta) = try Safetensors.read(resumePath)
        guard meta["format"] == Self.format, let text = meta["trainer_state"],
              let state = try? JSONDecoder().decode(State.self, from: Data(text.utf8)) else {
            throw EmovoxError("no trainer state in the resume file's metadata (or one written by an older emovox); start a new run folder", file: resumePath)
        }
        return Snapshot(network: Self.unprefixed(tensors, "model."), optimizer: Self.unprefixed(tensors, "optimizer."), state: state, metadata: meta)
    }

    static func unprefixed(_ tensors: [String: Tensor], _ prefix: String) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }

    /// `trainer_state.json`: the resume file's state, pretty-printed for people and scripts.
    public func writeState<State: Encodable>(_ state: State) throws {
        try AtomicFile.write(try CanonicalJSON.encoder(pretty: true).encode(state), to: statePath)
    }

    /// `epochs.csv`, rewritten whole from the history (so a resumed run's file is the uninterrupted run's).
    public func writeEpochs(header: String, rows: [String]) throws {
        try AtomicFile.write(([header] + rows).map { $0 + "\n" }.joined(), to: epochsPath)
    }

    /// Appends one epoch's wall-clock time to `timing.csv` (`rateName`: the throughput column, e.g. samples_per_second).
    public func appendTiming(epoch: Int, seconds: Double, rate: Double, rateName: String) throws {
        if !FileManager.default.fileExists(atPath: timingPath) { try AtomicFile.write("epoch,seconds,\(rateName)\n", to: timingPath) }
        guard let h = FileHandle(forWritingAtPath: timingPath) else { throw EmovoxError("cannot append", file: timingPath) }
        defer { try? h.close() }
        h.seekToEndOfFile()
        h.write(Data(String(format: "%d,%.2f,%.2f\n", epoch, seconds, rate).utf8))
    }

    /// A non-finite loss stops the run (the last checkpoint stays as it was): usually a learning rate too high.
    public func checkFinite(_ loss: Float, epoch: Int, batch: Int) throws {
        guard loss.isFinite else {
            throw EmovoxError("loss became \(loss) at epoch \(epoch + 1), batch \(batch + 1): lower the learning rate; the last checkpoint is kept", file: directory)
        }
    }

    /// A resumed run must go on with the configuration it started with; the error names the parameters that differ.
    public static func checkSameConfiguration<Config: Encodable & Equatable>(recorded: Config, current: Config, source: String) throws {
        guard recorded != current else { return }
        let differing = Self.differingKeys(recorded, current)
        throw EmovoxError("the run was started with another configuration (\(differing.isEmpty ? "see trainer_state.json" : differing.joined(separator: ", ")) differ); "
                          + "resume with the same configuration or start a new run folder", file: source)
    }

    /// Top-level keys whose JSON values differ between two configurations.
    static func differingKeys<Config: Encodable>(_ a: Config, _ b: Config) -> [String] {
        func object(_ c: Config) -> [String: Any] {
            (try? CanonicalJSON.encoder().encode(c)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        }
        // Each value back to canonical JSON text: a plain comparison that holds for nested and optional values.
        func text(_ v: Any?) -> Data? { v.flatMap { try? JSONSerialization.data(withJSONObject: [$0], options: [.sortedKeys]) } }
        let (x, y) = (object(a), object(b))
        return Set(x.keys).union(y.keys).sorted().filter { text(x[$0]) != text(y[$0]) }
    }

    /// An epoch's visiting order: a Fisher–Yates shuffle drawn from (seed, epoch) alone, so a resumed run (and every
    /// data-parallel rank) computes the same order without storing it.
    public static func shuffledOrder(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SeededRNG(seed: seed, epoch: epoch, position: -1)
        var idx = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(below: i + 1)) }
        return idx
    }
}
