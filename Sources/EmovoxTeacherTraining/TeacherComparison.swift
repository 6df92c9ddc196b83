import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxData
import EmovoxLabelling
import EmovoxModels
import EmovoxReport

/// Face teachers side by side: the FER+ protocol on a FER+ split, and what each one reads on talking-face
/// talking-face videos: against the acted emotion where the file name has one (CREMA-D's `1001_DFA_ANG_XX.flv`,
/// RAVDESS), and on any video how steady each teacher's reading is (top-class changes, class histogram).
public struct TeacherComparison {
    public struct Entry {
        public var name: String
        public var spec: String
        public var evaluation: TeacherEvaluation?
        public var videos: [VideoReading] = []
        /// The teacher's class names (its readings are over these).
        public var classes: [String] = []
        public init(name: String, spec: String) { self.name = name; self.spec = spec }
    }

    /// One teacher on one video: its speaking face's frames.
    public struct VideoReading {
        public var video: String
        /// The acted emotion from the file name (nil: an unlabelled video).
        public var acted: String?
        public var framesWithFace: Int
        /// Share of the frames whose top class is each teacher class.
        public var topClassShare: [Double]
        /// Share of consecutive face frames whose top class differs: how often the reading flips within a clip
        /// (an expression changes over seconds, not from one frame to the next at 25/6 fps).
        public var topClassChangeRate: Double?
        /// Mean per-frame softmax probability per teacher class.
        public var meanProbabilities: [Float]
        /// The class with the highest mean probability, and the paper's ground-truth rule: the class of the
        /// single largest logit over the frames.
        public var dominantMean: String?, dominantMaxLogit: String?
        /// Share of frames whose top class is the acted emotion (nil: the teacher has no such class).
        public var actedFrameShare: Double?
        public var actedProbability: Float?
    }

    public var split: String
    public var entries: [Entry] = []
    public init(split: String) { self.split = split }

    /// Reads each video with `runner` (its speaking face track). Videos that cannot be read are listed in `failed`.
    public static func readVideos(_ videos: [String], runner: TeacherRunner, failed: inout [(String, String)]) -> [VideoReading] {
        let labels = runner.teacher.labels
        var out: [VideoReading] = []
        for v in videos {
            let name = (v as NSString).lastPathComponent
            let acted = CorpusReader.cremad(name)?.label ?? CorpusReader.ravdess(name)?.label
            let run: TeacherRun
            do { run = try runner.run(v) } catch { failed.append((v, "\(error)")); continue }
            let frames = run.speakingResults
            let actedIndex = acted.flatMap { Emotion.index(of: $0, in: labels) }
            var mean = [Float](repeating: 0, count: labels.count), hits = 0
            var tops = [Double](repeating: 0, count: labels.count), changes = 0, previous: Int?
            var maxLogit = -Float.infinity, maxClass: Int?
            for f in frames {
                let p = Softmax.probabilities(f.logits)
                for c in mean.indices { mean[c] += p[c] / Float(frames.count) }
                let top = p.indices.max { p[$0] < p[$1] }!
                if top == actedIndex { hits += 1 }
                tops[top] += 1 / Double(frames.count)
                if let previous, previous != top { changes += 1 }
                previous = top
                for (c, l) in f.logits.enumerated() where l > maxLogit { maxLogit = l; maxClass = c }
            }
            let dominant = frames.isEmpty ? nil : mean.indices.max { mean[$0] < mean[$1] }.map { labels[$0] }
            out.append(VideoReading(video: name, acted: acted, framesWithFace: frames.count, topClassShare: tops,
                                    topClassChangeRate: frames.count > 1 ? Double(changes) / Double(frames.count - 1) : nil,
                                    meanProbabilities: mean,
                                    dominantMean: dominant, dominantMaxLogit: maxClass.map { labels[$0] },
                                    actedFrameShare: actedIndex != nil && !frames.isEmpty ? Double(hits) / Double(frames.count) : nil,
                                    actedProbability: actedIndex.flatMap { frames.isEmpty ? nil : mean[$0] }))
        }
        return out
    }

    static func f3(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "–" }

    public func summaryCSV() -> String {
        var s = "teacher,faces,accuracy,covered_accuracy,ua," + FERPlus.emotions.map { "recall_\($0)" }.joined(separator: ",") + "\n"
        for e in entries {
            guard let ev = e.evaluation else { continue }
            s += ([e.name, String(ev.faces), Self.f3(ev.accuracy), Self.f3(ev.coveredAccuracy), Self.f3(ev.report.ua)]
                  + ev.report.recall.map(Self.f3)).joined(separator: ",") + "\n"
        }
        return s
    }

    /// One row per teacher and video; the top-class shares are over the teacher's own classes (`top_share` lists
    /// them as class:share).
    public func videosCSV() -> String {
        var s = "teacher,video,acted,frames_with_face,dominant_mean_probability,dominant_max_logit,acted_frame_share,acted_mean_probability,top_class_change_rate,top_share\n"
        for e in entries {
            for v in e.videos {
                let shares = zip(e.classes, v.topClassShare).map { "\($0):" + String(format: "%.3f", $1) }.joined(separator: " ")
                s += [e.name, v.video, v.acted ?? "", String(v.framesWithFace), v.dominantMean ?? "", v.dominantMaxLogit ?? "",
                      Self.f3(v.actedFrameShare), v.actedProbability.map { String(format: "%.3f", $0) } ?? "",
                      Self.f3(v.topClassChangeRate), shares].joined(separator: ",") + "\n"
            }
        }
        return s
    }

    /// Per teacher over all its videos: how often the top class changes between consecutive face frames (mean
    /// over videos) and the share of all face frames whose top class is each FER+ emotion (classes the teacher
    /// lacks: nil).
    public func steadiness() -> [(teacher: String, videos: Int, meanChangeRate: Double?, histogram: [Double?])] {
        entries.filter { !$0.videos.isEmpty }.map { e in
            let rates = e.videos.compactMap(\.topClassChangeRate)
            let frames = Double(e.videos.map(\.framesWithFace).reduce(0, +))
            let hist: [Double?] = FERPlus.emotions.map { emotion in
                guard let c = Emotion.index(of: emotion, in: e.classes) else { return nil }
                guard frames > 0 else { return 0 }
                return e.videos.map { $0.topClassShare[c] * Double($0.framesWithFace) }.reduce(0, +) / frames
            }
            return (e.name, e.videos.count, rates.isEmpty ? nil : rates.reduce(0, +) / Double(rates.count), hist)
        }
    }

    /// Summary, per-class recall and confusion matrices on FER+, then the per-video table.
    public func html() -> HTMLReport {
        var r = HTMLReport(title: "Face teachers compared")
        let evaluated = entries.filter { $0.evaluation != nil }
        if !evaluated.isEmpty {
            r.heading("FER+ \(split): accuracy against the majority vote")
            r.paragraph("FER+ protocol (Barsoum et al. 2016): faces whose majority vote is unknown or not-a-face are left out; accuracy is against the majority emotion. A teacher with fewer classes (fer's FER2013 model has no contempt) is mapped onto FER+ names and can never be right on the classes it lacks; 'covered accuracy' leaves those faces out.")
            r.table(header: ["teacher", "faces", "accuracy", "covered accuracy", "UA"] + FERPlus.emotions.map { "recall \($0)" },
                    rows: evaluated.map { e in
                        let ev = e.evaluation!
                        return [e.name, String(ev.faces), Self.f3(ev.accuracy), Self.f3(ev.coveredAccuracy), Self.f3(ev.report.ua)]
                            + ev.report.recall.enumerated().map { i, v in ev.unmappedClasses.contains(FERPlus.emotions[i]) ? "n/a" : Self.f3(v) }
                    })
            let panels: [any FigurePanel] = evaluated.map { ConfusionPlot(title: $0.name, classNames: FERPlus.emotions, counts: $0.evaluation!.report.confusion) }
            r.figure(Figure(panels: [panels]), caption: "Confusion matrices on FER+ \(split) (rows: majority vote; cells shaded by the share of the row, so the diagonal is per-class recall).")
        }
        let withVideos = entries.filter { !$0.videos.isEmpty }
        if !withVideos.isEmpty {
            r.heading("Talking-face videos")
            r.paragraph("Each teacher on the speaking face track of each video (frames sampled at the teacher's fps). 'dominant' is the class with the highest mean probability; 'max-logit' is the paper's ground-truth rule (class of the single largest logit); 'acted share' is the share of frames whose top class is the acted emotion; 'changes' is the share of consecutive face frames whose top class differs.")
            var rows: [[String]] = []
            for e in withVideos {
                for v in e.videos {
                    rows.append([v.video, v.acted ?? "–", e.name, String(v.framesWithFace), v.dominantMean ?? "–", v.dominantMaxLogit ?? "–",
                                 Self.f3(v.actedFrameShare), v.actedProbability.map { String(format: "%.2f", $0) } ?? "–", Self.f3(v.topClassChangeRate)])
                }
            }
            rows.sort { ($0[0], $0[2]) < ($1[0], $1[2]) }
            r.table(header: ["video", "acted", "teacher", "frames", "dominant", "max-logit", "acted share", "p(acted)", "changes"], rows: rows)
            if withVideos.contains(where: { $0.videos.contains { $0.acted != nil } }) {
                let rightByTeacher = withVideos.map { e in
                    let acted = e.videos.filter { $0.acted != nil }
                    return [e.name, "\(acted.filter { $0.dominantMean.map(Emotion.canonical) == $0.acted.map(Emotion.canonical) }.count) of \(acted.count)"]
                }
                r.table(header: ["teacher", "acted videos whose dominant class is the acted emotion"], rows: rightByTeacher)
            }
            r.heading("How steady each reading is")
            r.paragraph("Over all videos: the mean share of consecutive face frames whose top class changes, and the share of all face frames whose top class is each emotion ('n/a': the teacher has no such class).")
            r.table(header: ["teacher", "videos", "top-class changes"] + FERPlus.emotions,
                    rows: steadiness().map { s in [s.teacher, String(s.videos), Self.f3(s.meanChangeRate)] + s.histogram.map { $0.map { String(format: "%.3f", $0) } ?? "n/a" } })
        }
        return r
    }

    /// Writes summary.csv, videos.csv, per-teacher confusion.csv/.svg and report.html into `dir`.
    public func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if entries.contains(where: { $0.evaluation != nil }) { try AtomicFile.write(summaryCSV(), to: dir + "/summary.csv") }
        if entries.contains(where: { !$0.videos.isEmpty }) { try AtomicFile.write(videosCSV(), to: dir + "/videos.csv") }
        for e in entries {
            guard let ev = e.evaluation else { continue }
            let safe = e.name.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: " ", with: "_")
            try AtomicFile.write(ev.confusionCSV(), to: dir + "/confusion_\(safe).csv")
            try Figure(panels: [[ConfusionPlot(title: e.name, classNames: FERPlus.emotions, counts: ev.report.confusion)]])
                .write(svgPath: dir + "/confusion_\(safe).svg")
        }
        try html().write(to: dir + "/report.html")
    }
}
