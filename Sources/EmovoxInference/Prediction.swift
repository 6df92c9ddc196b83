import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxEval
import EmovoxSegmentation

/// The student's emotion per file, per window over time, or per speech segment, as CSV rows. Files are scored
/// one batch of 16 at a time and windows and segments are streamed, so a long list or an hours-long recording
/// runs in bounded memory.
public struct Prediction {
    /// How each input is cut before it is scored.
    public enum Mode {
        /// One row per input: the whole file (the runner scores its centre `maxSeconds`), or a clip's part.
        case whole
        /// One row per window of `seconds`, every `hop` seconds; times on the media's time line.
        case windows(seconds: Double, hop: Double)
        /// One row per speech segment; a recording without speech gets one `no-speech` row.
        case segments(SegmentSource)
    }

    /// Where speech segments come from.
    public enum SegmentSource {
        /// Cut at pauses by voice-activity detection.
        case vad(VADConfig)
        /// A CSV `start,end[,speaker]` or RTTM file (see `SegmentList`), read for each input recording.
        case list(path: String)
    }

    /// A file scored whole ("-" reads 16 kHz s16le mono PCM from standard input), or a manifest clip: its id
    /// and its [start, end) part of the media.
    public struct Input: Equatable {
        public var id: String?
        public var file: String
        public var start: Double?
        public var end: Double?
        public init(file: String) { self.file = file }
        public init(clip: Clip) { id = clip.id; file = clip.audio; start = clip.start; end = clip.end }
        /// How batch reports name the input.
        public var name: String { id ?? file }
    }

    /// One scored stretch of an input.
    public struct Row: Equatable {
        public var id: String?
        public var file: String
        public var start: Double
        public var end: Double
        public var speaker: String?
        /// The most probable class, or `no-speech` when a recording has no speech segment.
        public var label: String
        /// Per class (of the calibration head when there is one, else of the student); nil for `no-speech`.
        public var probabilities: [Double]?
        public var logits: [Float]?
        public init(id: String? = nil, file: String, start: Double, end: Double, speaker: String? = nil, label: String,
                    probabilities: [Double]? = nil, logits: [Float]? = nil) {
            self.id = id; self.file = file; self.start = start; self.end = end; self.speaker = speaker; self.label = label
            self.probabilities = probabilities; self.logits = logits
        }
    }

    /// Times (window centres) and probabilities of a windowed input, for a timeline figure.
    public struct Timeline {
        public var name: String
        public var times: [Double] = []
        public var probabilities: [[Double]] = []
    }

    public let runner: StudentRunner
    public let head: CalibrationHead?
    public let mode: Mode
    public let inputs: [Input]
    public let includeLogits: Bool
    /// The class of each probability column.
    public var classes: [String] { head?.classNames ?? runner.classes }
    /// Listed segments per input (`.segments(.list)` only), read up front so a bad list stops before any output.
    let segmentLists: [[Segment]]?
    let hasIDs: Bool, hasSpeakers: Bool

    public init(runner: StudentRunner, head: CalibrationHead? = nil, mode: Mode, inputs: [Input], includeLogits: Bool = false) throws {
        switch mode {
        case .whole: segmentLists = nil
        case .windows(let seconds, _):
            guard Int(seconds * 16000) >= 1 else { throw EmovoxError("the window must be at least one sample long (window = \(seconds) s)") }
            segmentLists = nil
        case .segments(let source):
            if let clip = inputs.first(where: { $0.id != nil || $0.start != nil || $0.end != nil }) {
                throw EmovoxError("segments are cut from whole recordings, not from clips with an id or a time range (input \(clip.name))")
            }
            if case .list(let path) = source { segmentLists = try inputs.map { try SegmentList.read(path, recording: $0.file) } } else { segmentLists = nil }
        }
        self.runner = runner; self.head = head; self.mode = mode; self.inputs = inputs; self.includeLogits = includeLogits
        hasIDs = inputs.contains { $0.id != nil }
        hasSpeakers = segmentLists?.contains { $0.contains { $0.speaker != nil } } ?? false
    }

    /// The CSV header: `[id,]file,start_s,end_s,[speaker,]label,p_*[,logit_*]`.
    public var header: String {
        var columns = (hasIDs ? ["id"] : []) + ["file", "start_s", "end_s"] + (hasSpeakers ? ["speaker"] : []) + ["label"]
        columns += classes.map { "p_\($0)" }
        if includeLogits { columns += runner.classes.map { "logit_\($0)" } }
        return columns.joined(separator: ",")
    }

    /// A row as a CSV line (no newline), in the header's columns; `no-speech` rows leave the numbers empty.
    public func csv(_ row: Row) -> String {
        var cells = (hasIDs ? [CSV.escape(row.id ?? "")] : []) + [CSV.escape(row.file), String(format: "%.2f", row.start), String(format: "%.2f", row.end)]
        if hasSpeakers { cells.append(CSV.escape(row.speaker ?? "")) }
        cells.append(row.label)
        cells += row.probabilities.map { $0.map { String(format: "%.5f", $0) } } ?? classes.map { _ in "" }
        if includeLogits { cells += row.logits.map { $0.map { String(format: "%.5f", $0) } } ?? runner.classes.map { _ in "" } }
        return cells.joined(separator: ",")
    }

    /// Scores every input and hands each row to `emit` in order. An input that cannot be read or scored is
    /// skipped and listed in `report` (its rows so far stay emitted); the others carry on. Returns the timeline
    /// of the first input scored in full in `.windows` mode.
    @discardableResult
    public func run(report: inout BatchReport, _ emit: (Row) -> Void) -> Timeline? {
        switch mode {
        case .whole: runWhole(report: &report, emit); return nil
        case .windows(let seconds, let hop): return runWindows(seconds: seconds, hop: hop, report: &report, emit)
        case .segments(let source): runSegments(source, report: &report, emit); return nil
        }
    }

    /// A scored row: probabilities from the head (or the student's softmax) and the best class.
    func row(_ input: Input, start: Double, end: Double, speaker: String? = nil, logits: [Float], embedding: [Float]) throws -> Row {
        guard logits.allSatisfy(\.isFinite) else { throw EmovoxError("the student's outputs are not finite numbers", file: input.file) }
        let p = Self.probabilities(logits, embedding, head: head)
        let best = p.indices.max { p[$0] < p[$1] }!
        return Row(id: input.id, file: input.file, start: start, end: end, speaker: speaker, label: classes[best], probabilities: p,
                   logits: includeLogits ? logits : nil)
    }

    static func probabilities(_ logits: [Float], _ embedding: [Float], head: CalibrationHead?) -> [Double] {
        guard let h = head else { return Softmax.probabilities(logits).map(Double.init) }
        return h.probabilities([(h.features == "embedding" ? embedding : logits).map(Double.init)])[0]
    }

    func stream(_ input: Input) throws -> AudioStream {
        input.file == "-" ? AudioStream(rawPCM16: .standardInput) : try AudioStream(path: input.file, start: input.start, end: input.end)
    }

    func runWhole(report: inout BatchReport, _ emit: (Row) -> Void) {
        for first in stride(from: 0, to: inputs.count, by: 16) {
            var scored: [Input] = [], audio: [[Float]] = []
            for input in inputs[first..<min(first + 16, inputs.count)] {
                do {
                    audio.append(try input.file == "-" ? AudioLoader.check(Self.readAllStandardInput(), sampleRate: 16000, name: "<stdin>", warn: { report.warn($0, $1) })
                                                       : AudioLoader.load(input.file, start: input.start, end: input.end, warn: { report.warn($0, $1) }))
                    scored.append(input)
                } catch { report.skip(input.name, error) }
            }
            let (l, e) = runner.score(audio)
            for (i, input) in scored.enumerated() {
                let t0 = input.start ?? 0
                do {
                    emit(try row(input, start: t0, end: t0 + Double(audio[i].count) / 16000, logits: l[i], embedding: e[i]))
                    report.succeeded()
                } catch { report.skip(input.name, error) }
            }
        }
    }

    func runWindows(seconds: Double, hop: Double, report: inout BatchReport, _ emit: (Row) -> Void) -> Timeline? {
        let w = Int(seconds * 16000), h = max(1, Int(hop * 16000))
        var first: Timeline? = nil
        for input in inputs {
            do {
                var timeline = Timeline(name: input.name)
                try stream(input).windows(window: w, hop: h) { start, samples, valid in
                    let (l, e) = runner.score([Array(samples.prefix(max(valid, 1)))])
                    let t0 = (input.start ?? 0) + Double(start) / 16000  // times on the media's time line
                    let r = try row(input, start: t0, end: t0 + Double(valid) / 16000, logits: l[0], embedding: e[0])
                    emit(r)
                    timeline.times.append(t0 + Double(valid) / 32000); timeline.probabilities.append(r.probabilities!)
                }
                if first == nil { first = timeline }
                report.succeeded()
            } catch { report.skip(input.name, error) }
        }
        return first
    }

    func runSegments(_ source: SegmentSource, report: inout BatchReport, _ emit: (Row) -> Void) {
        for (i, input) in inputs.enumerated() {
            do {
                var found = 0
                let segments: SegmentedPrediction.Source
                switch source { case .vad(let config): segments = .vad(config); case .list: segments = .list(segmentLists![i]) }
                let seconds = try SegmentedPrediction.run(try stream(input), runner: runner, source: segments) { seg, l, e in
                    emit(try row(input, start: seg.start, end: seg.end, speaker: seg.speaker, logits: l, embedding: e))
                    found += 1
                }
                if found == 0 {
                    emit(Row(id: nil, file: input.file, start: 0, end: seconds, speaker: hasSpeakers ? "" : nil, label: "no-speech"))
                }
                report.succeeded()
            } catch { report.skip(input.name, error) }  // one bad recording does not stop the batch
        }
    }

    static func readAllStandardInput() -> [Float] {
        let d = FileHandle.standardInput.readDataToEndOfFile()
        return d.withUnsafeBytes { $0.bindMemory(to: Int16.self).map { Float(Int16(littleEndian: $0)) / 32768 } }
    }
}
