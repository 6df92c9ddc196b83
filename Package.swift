// swift-tools-version:6.0
import PackageDescription
import Foundation

// One module per concern; dependencies point downwards:
//   emovox (CLI, thin)
//   → EmovoxDemo, EmovoxBench                       (orchestration: the demo, throughput measurements)
//   → EmovoxAnalysis                                 (the paper's ROC analysis per split, report)
//   → EmovoxExport                                   (ONNX export)
//   → EmovoxDistill, EmovoxInference                 (training the student; running it on audio: files, windows, segments)
//   → EmovoxSegmentation                             (where speech is: voice-activity detection, segment lists)
//   → EmovoxAudioStore                               (packed int16 audio shards, memory-mapped crops)
//   → EmovoxLabelling                                (the face teacher over media → per-clip labels)
//   → EmovoxModels, EmovoxData, EmovoxEval, EmovoxReport, EmovoxAudio, EmovoxVision
//     (EmovoxTeacherTraining: FER+ reader and face-teacher training, on Vision + Eval + Models)
//   → EmovoxTraining                                 (run folder, resume file, logs, epoch order of both trainers)
//   → EmovoxCore                                     (tensors, layers, optimisers, tensor files)
//   → EmovoxKernels (-Ounchecked) → CBLAS (OpenBLAS) (the hot loops, on pointers: conv, pools, BN/ReLU, FFT, Haar, resize)
//   → EmovoxUtilities                                (errors, atomic writes, canonical JSON, subprocesses, progress,
//                                                      batch reports, shared-data lookup: nothing numeric)
//   and EmovoxVision → CImageCodecs → CPNG, CJPEG (libpng, libjpeg-turbo), CVideoDecode (libavformat, libavcodec, libavfilter)

/// Our own kernels (depthwise conv, pools, BN/ReLU, im2col, FFT, Haar) are compiled for AVX2 + FMA (LLVM's
/// `haswell`, the x86-64-v3 level) when the building machine has them, else for baseline x86-64 (SSE2).
/// EMOVOX_TARGET_CPU overrides: `baseline` for a binary that must run on older CPUs, or any LLVM CPU name.
func targetCPU() -> String? {
    if let v = ProcessInfo.processInfo.environment["EMOVOX_TARGET_CPU"], !v.isEmpty { return v == "baseline" ? nil : v }
    #if arch(x86_64) && os(Linux)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
    let flags = Set(line.split(separator: " ").map(String.init))
    return ["avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"].allSatisfy(flags.contains) ? "haswell" : nil
    #else
    return nil
    #endif
}
/// Only EmovoxKernels (hot loops over raw pointers: conv, pools, BN/ReLU, FFT, Haar) is built `-Ounchecked` and for
/// the target CPU. Everything else, above all the parsers of untrusted files, keeps the release default `-O`, where an
/// out-of-bounds index or an overflow traps instead of reading or writing past a buffer.
let kernelSettings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"] + (targetCPU().map { ["-target-cpu", $0] } ?? []),
                                                   .when(configuration: .release))]
/// The other targets: release default -O; the define only tells `emovox bench` what the kernels were built for.
let optimise: [SwiftSetting] = targetCPU() == nil ? [] : [.define("EMOVOX_WIDE_SIMD", .when(configuration: .release))]

let package = Package(
    name: "emovox",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "emovox", targets: ["emovox"]),
        .library(name: "Emovox", targets: ["EmovoxUtilities", "EmovoxKernels", "EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData",
                                            "EmovoxEval", "EmovoxReport", "EmovoxLabelling", "EmovoxAudioStore", "EmovoxDistill",
                                            "EmovoxInference", "EmovoxAnalysis", "EmovoxDemo", "EmovoxBench",
                                            "EmovoxTeacherTraining", "EmovoxExport", "EmovoxSegmentation", "EmovoxTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX files are protobuf messages: the generated onnx.pb.swift (tools/gen_onnx_proto.sh) needs the runtime only.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        // The setjmp/longjmp error handling of libpng and libjpeg stays in C (it must not unwind Swift frames).
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"], path: "Sources/CImageCodecs"),
        // Video frames and audio decoded and filtered in-process (libavformat/libavcodec/libavfilter): no ffmpeg process start per file.
        .target(name: "CVideoDecode", path: "Sources/CVideoDecode",
                linkerSettings: [.linkedLibrary("avfilter"), .linkedLibrary("avformat"), .linkedLibrary("avcodec"), .linkedLibrary("avutil")]),
        // No -Ounchecked here: nothing in it is a hot loop, and its checks should stay on.
        .target(name: "EmovoxUtilities"),
        // Direct 3×3 convolutions: one source compiled three times (AVX-512F, AVX2+FMA, baseline) and picked at run time,
        // so the binary needs no -target-cpu and still runs on a CPU without AVX-512.
        .target(name: "CConvKernels", path: "Sources/CConvKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
        .target(name: "EmovoxKernels", dependencies: ["CBLAS", "CConvKernels"], swiftSettings: kernelSettings),
        .target(name: "EmovoxCore", dependencies: ["EmovoxUtilities", "EmovoxKernels"], swiftSettings: optimise),
        .target(name: "EmovoxAudio", dependencies: ["EmovoxCore", "CVideoDecode"], swiftSettings: optimise),
        .target(name: "EmovoxVision", dependencies: ["EmovoxCore", "CImageCodecs", "CVideoDecode"], swiftSettings: optimise),
        .target(name: "EmovoxModels", dependencies: ["EmovoxCore", "CHDF5"], swiftSettings: optimise),
        .target(name: "EmovoxData", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxEval", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxReport", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxLabelling", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData"],
                swiftSettings: optimise),
        .target(name: "EmovoxAudioStore", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxData"], swiftSettings: optimise),
        // The run folder, resume file, logs and epoch order shared by `distill` and `teacher-train`.
        .target(name: "EmovoxTraining", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxDistill", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxAudioStore", "EmovoxModels", "EmovoxData", "EmovoxLabelling",
                                                   "EmovoxTraining"],
                swiftSettings: optimise),
        .target(name: "EmovoxInference", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxModels", "EmovoxData", "EmovoxEval", "EmovoxSegmentation"],
                swiftSettings: optimise),
        .target(name: "EmovoxAnalysis",
                dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxData", "EmovoxEval", "EmovoxReport", "EmovoxLabelling", "EmovoxInference"],
                swiftSettings: optimise),
        .target(name: "EmovoxDemo",
                dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxData", "EmovoxLabelling", "EmovoxAudioStore", "EmovoxDistill",
                               "EmovoxInference", "EmovoxAnalysis", "EmovoxTeacherTraining"],
                swiftSettings: optimise),
        .target(name: "EmovoxTeacherTraining", dependencies: ["EmovoxCore", "EmovoxVision", "EmovoxEval", "EmovoxModels", "EmovoxData",
                                                           "EmovoxLabelling", "EmovoxReport", "EmovoxTraining"], swiftSettings: optimise),
        .target(name: "EmovoxBench", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxData", "EmovoxModels", "EmovoxLabelling", "EmovoxInference",
                                                  "EmovoxTeacherTraining"],
                swiftSettings: optimise),
        .target(name: "EmovoxExport",
                dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxModels", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: optimise),
        .target(name: "EmovoxSegmentation", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxData", "EmovoxLabelling"], swiftSettings: optimise),
        .executableTarget(name: "emovox",
                          dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData", "EmovoxEval",
                                         "EmovoxReport", "EmovoxLabelling", "EmovoxAudioStore", "EmovoxDistill", "EmovoxInference", "EmovoxAnalysis",
                                         "EmovoxDemo", "EmovoxBench", "EmovoxTeacherTraining", "EmovoxExport", "EmovoxSegmentation",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimise),
        .testTarget(name: "EmovoxUtilitiesTests", dependencies: ["EmovoxUtilities"]),
        .testTarget(name: "EmovoxCoreTests", dependencies: ["EmovoxCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxAudioTests", dependencies: ["EmovoxAudio"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxVisionTests", dependencies: ["EmovoxVision"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxModelsTests", dependencies: ["EmovoxModels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxDataTests", dependencies: ["EmovoxData"]),
        .testTarget(name: "EmovoxEvalTests", dependencies: ["EmovoxEval"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxReportTests", dependencies: ["EmovoxReport"]),
        .testTarget(name: "EmovoxLabellingTests", dependencies: ["EmovoxLabelling"]),
        .testTarget(name: "EmovoxAudioStoreTests", dependencies: ["EmovoxAudioStore", "EmovoxAudio", "EmovoxData"]),
        .testTarget(name: "EmovoxDistillTests", dependencies: ["EmovoxDistill", "EmovoxAudioStore", "EmovoxAudio", "EmovoxData"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxDemoTests", dependencies: ["EmovoxDemo", "EmovoxAudio", "EmovoxLabelling", "EmovoxData"]),
        .testTarget(name: "EmovoxAnalysisTests", dependencies: ["EmovoxAnalysis"]),
        .testTarget(name: "EmovoxTeacherTrainingTests", dependencies: ["EmovoxTeacherTraining"], resources: [.copy("Fixtures")]),
        // Fuzzing of every parser, load-time checks, byte reproducibility and kill/resume of the built CLI.
        .testTarget(name: "EmovoxReliabilityTests", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels",
                                                                  "EmovoxData", "EmovoxLabelling", "EmovoxAudioStore"]),
        .testTarget(name: "EmovoxExportTests", dependencies: ["EmovoxExport", "EmovoxVision", "EmovoxTeacherTraining"]),
        .testTarget(name: "EmovoxSegmentationTests", dependencies: ["EmovoxSegmentation", "EmovoxInference"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxInferenceTests", dependencies: ["EmovoxInference"]),
    ],
    swiftLanguageModes: [.v5]
)

// Open MPI (data-parallel `distill` under mpirun/srun) is optional: CMPI and EmovoxMPI (→ EmovoxCore, CMPI; used by the
// CLI only) are added when Open MPI's pkg-config file is found (Debian: libopenmpi-dev), or when EMOVOX_MPI=1 forces
// them; EMOVOX_MPI=0 leaves them out.
let mpiAvailable: Bool = {
    switch Context.environment["EMOVOX_MPI"] {
    case "0": return false
    case "1": return true
    default:
        let dirs = (Context.environment["PKG_CONFIG_PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/aarch64-linux-gnu/pkgconfig", "/usr/lib64/pkgconfig",
               "/usr/lib/pkgconfig", "/usr/local/lib/pkgconfig", "/usr/share/pkgconfig", "/opt/homebrew/lib/pkgconfig"]
        return dirs.contains { FileManager.default.fileExists(atPath: $0 + "/ompi-c.pc") }
    }
}()
if mpiAvailable {
    package.targets += [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "EmovoxMPI", dependencies: ["EmovoxCore", "CMPI"], swiftSettings: optimise),
    ]
    package.targets.first { $0.name == "emovox" }?.dependencies.append("EmovoxMPI")
    package.products = package.products.map { product in
        guard let library = product as? Product.Library, library.name == "Emovox" else { return product }
        return .library(name: library.name, targets: library.targets + ["EmovoxMPI"])
    }
}
