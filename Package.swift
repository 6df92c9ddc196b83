// swift-tools-version:6.0
import PackageDescription
import Foundation

// One module per concern; dependencies point downwards:
//   emovox (CLI, thin)
//   → EmovoxDemo, EmovoxBench                       (orchestration: the demo, throughput measurements)
//   → EmovoxAnalysis                                 (the paper's ROC analysis per split, report)
//   → EmovoxDistill, EmovoxInference                 (training the student; running it on audio)
//   → EmovoxLabelling                                (the face teacher over media → per-clip labels)
//   → EmovoxModels, EmovoxData, EmovoxEval, EmovoxReport, EmovoxAudio, EmovoxVision
//   → EmovoxCore → CBLAS (OpenBLAS)
let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "emovox",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "emovox", targets: ["emovox"]),
        .library(name: "Emovox", targets: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData",
                                            "EmovoxEval", "EmovoxReport", "EmovoxLabelling", "EmovoxDistill",
                                            "EmovoxInference", "EmovoxAnalysis", "EmovoxDemo", "EmovoxBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .target(name: "EmovoxCore", dependencies: ["CBLAS"], swiftSettings: optimise),
        .target(name: "EmovoxAudio", dependencies: ["EmovoxCore"], swiftSettings: optimise),
        .target(name: "EmovoxVision", dependencies: ["EmovoxCore"], swiftSettings: optimise),
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
        .target(name: "EmovoxBench", dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxLabelling", "EmovoxInference"],
                swiftSettings: optimise),
        .executableTarget(name: "emovox",
                          dependencies: ["EmovoxCore", "EmovoxAudio", "EmovoxVision", "EmovoxModels", "EmovoxData", "EmovoxEval",
                                         "EmovoxReport", "EmovoxLabelling", "EmovoxDistill", "EmovoxInference", "EmovoxAnalysis",
                                         "EmovoxDemo", "EmovoxBench",
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
