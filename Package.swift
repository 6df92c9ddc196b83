// swift-tools-version:6.0
import PackageDescription

// One module per concern; dependencies point downwards:
//   emovox (CLI, thin)
//   → EmovoxDemo, EmovoxBench                       (orchestration: the demo, throughput measurements)
//   → EmovoxAnalysis                                 (the paper's ROC analysis per split, report)
//   → EmovoxDistill, EmovoxInference                 (training the student; running it on audio)
//   → EmovoxLabelling                                (the face teacher over media → per-clip labels)
//   → EmovoxModels, EmovoxData, EmovoxEval, EmovoxReport, EmovoxAudio, EmovoxVision
//     (EmovoxTeacherTraining: FER+ reader and face-teacher training, on Vision + Eval + Models)
//   → EmovoxCore → CBLAS (OpenBLAS); EmovoxVision → CImageCodecs → CPNG, CJPEG (libpng, libjpeg-turbo)
let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "emovox",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "emovox", targets: ["emovox"]),
        .library(name: "Emovox", targets: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData",
                                            "EmovoxEval", "EmovoxReport", "EmovoxLabelling", "EmovoxDistill",
                                            "EmovoxInference", "EmovoxAnalysis", "EmovoxDemo", "EmovoxBench",
                                            "EmovoxTeacherTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "EmovoxCore", dependencies: ["CBLAS"], swiftSettings: optimise),
        .target(name: "EmovoxAudio", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxVision", dependencies: ["EmovoxCore", "CImageCodecs"], swiftSettings: optimise),
        .target(name: "EmovoxModels", dependencies: ["EmovoxCore", "CHDF5"], swiftSettings: optimise),
        .target(name: "EmovoxData", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxEval", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxReport", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxLabelling", dependencies: ["EmovoxCore", "EmovoxVision", "EmovoxModels", "EmovoxData"],
                swiftSettings: optimise),
        .target(name: "EmovoxDistill", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxModels", "EmovoxData", "EmovoxLabelling"],
                swiftSettings: optimise),
        .target(name: "EmovoxInference", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxModels", "EmovoxData"],
                swiftSettings: optimise),
        .target(name: "EmovoxAnalysis",
                dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxData", "EmovoxEval", "EmovoxReport", "EmovoxLabelling", "EmovoxInference"],
                swiftSettings: optimise),
        .target(name: "EmovoxDemo",
                dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxData", "EmovoxLabelling", "EmovoxDistill",
                               "EmovoxInference", "EmovoxAnalysis"],
                swiftSettings: optimise),
        .target(name: "EmovoxTeacherTraining", dependencies: ["EmovoxCore", "EmovoxVision", "EmovoxEval", "EmovoxModels"], swiftSettings: optimise),
        .target(name: "EmovoxBench", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxLabelling", "EmovoxInference"],
                swiftSettings: optimise),
        .executableTarget(name: "emovox",
                          dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData", "EmovoxEval",
                                         "EmovoxReport", "EmovoxLabelling", "EmovoxDistill", "EmovoxInference", "EmovoxAnalysis",
                                         "EmovoxDemo", "EmovoxBench", "EmovoxTeacherTraining",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimise),
        .testTarget(name: "EmovoxCoreTests", dependencies: ["EmovoxCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxAudioTests", dependencies: ["EmovoxAudio"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxVisionTests", dependencies: ["EmovoxVision"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxModelsTests", dependencies: ["EmovoxModels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxDataTests", dependencies: ["EmovoxData"]),
        .testTarget(name: "EmovoxEvalTests", dependencies: ["EmovoxEval"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EmovoxReportTests", dependencies: ["EmovoxReport"]),
        .testTarget(name: "EmovoxLabellingTests", dependencies: ["EmovoxLabelling"]),
        .testTarget(name: "EmovoxDistillTests", dependencies: ["EmovoxDistill"]),
        .testTarget(name: "EmovoxDemoTests", dependencies: ["EmovoxDemo"]),
        .testTarget(name: "EmovoxTeacherTrainingTests", dependencies: ["EmovoxTeacherTraining"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
