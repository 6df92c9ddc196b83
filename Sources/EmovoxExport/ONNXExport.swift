import Foundation
import SwiftProtobuf
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxModels

/// What travels beside an exported .onnx file (`model.onnx.json`): everything needed to run it without
/// emovox — class names, tensor names and layout, and the input transform (spectrogram or face crop).
public struct ONNXSidecar: Codable {
    public struct Value: Codable {
        public var name: String
        public var shape: [String]      // numbers, or names of dynamic axes
        public var layout: String
        public var dtype = "float32"
    }

    /// The VGGVox spectrogram exactly as emovox computes it (`EmovoxAudio.Spectrogram`).
    public struct SpectrogramRecipe: Codable {
        public var sampleRate = 16000
        public var decoding = "any file → mono, resampled to 16 kHz (libav, as `ffmpeg -ac 1 -ar 16000`), float samples in [-1, 1]"
        public var dcRemoval = "subtract the clip's mean sample"
        public var preemphasis: Float
        public var windowLength: Int
        public var window = "symmetric Hamming, 0.54 - 0.46 cos(2πn/(N-1))"
        public var hop: Int
        public var fftSize: Int
        public var magnitude = "|FFT| (not power, no log)"
        public var bins: Int
        public var binsNote: String
        public var framing = "frames = floor((samples - window_length) / hop) + 1, no centre padding"
        public var normalisation: String
        public var epsilon: Float
        public var frameRateHz: Double
        public var trainingCropSeconds: Double
        public var minimumFrames: Int
    }

    /// The teacher's face preprocessing, as emovox's teacher runner applies it.
    public struct FaceRecipe: Codable {
        public var detector = "OpenCV's frontal-face Haar cascade (haarcascade_frontalface_default.xml, scale 1.1, minNeighbors 5) on the grey frame"
        public var crop: String
        public var marginPixels: Int
        public var marginFraction: Double
        public var padding = "outside the frame: the mean grey of its bottom two rows"
        public var colour = "grey, 8-bit (BT.601 luma of RGB frames)"
        public var resize = "area interpolation to height × width"
        public var height: Int
        public var width: Int
        public var scaling = "x/255, then (x - 0.5)·2, i.e. [-1, 1]"

        init(_ recipe: FaceCropRecipe, height: Int, width: Int) {
            crop = recipe.description; marginPixels = recipe.marginPixels; marginFraction = recipe.marginFraction
            self.height = height; self.width = width
        }
    }

    public var format = "emovox-onnx-v1"
    public var kind: String                 // "student" or "teacher"
    public var model: String
    public var classes: [String]
    public var opset: Int
    public var input: Value
    public var outputs: [Value]
    public var spectrogram: SpectrogramRecipe?
    public var face: FaceRecipe?
    public var batchNorm: String
}

public enum ONNXExport {
    /// Opset 13: ReduceMean still takes `axes` as an attribute, and every runtime of the last years reads it.
    public static let opset = 13
    /// IR version 7 goes with opset 13 (onnx's versioning table).
    public static let irVersion: Int64 = 7

    /// The student as ONNX: input "spectrogram" [batch, 1, bins, frames] with a dynamic time axis (fc6 is
    /// averaged over time), outputs "logits" and "probabilities" [batch, classes]. BatchNorm stays as
    /// BatchNormalization nodes with the running statistics (runtimes fold them into the convs).
    public static func student(_ model: StudentModel, classes: [String], source: String) throws -> (model: Onnx_ModelProto, sidecar: ONNXSidecar) {
        var b = ONNXGraphBuilder(name: "emovox_\(model.config.name)")
        let inputDims: [ONNXDimension] = [.symbolic("batch"), .fixed(1), .fixed(model.config.bins), .symbolic("frames")]
        var h = b.input("spectrogram", inputDims)
        for (name, layer) in model.network.layers { h = try b.emit(layer, input: h, name: name, source: source) }
        let outDims: [ONNXDimension] = [.symbolic("batch"), .fixed(classes.count)]
        b.output(h, as: "logits", outDims)
        b.output(b.node("Softmax", [h], name: "softmax", attributes: [ONNXGraphBuilder.int("axis", 1)]), as: "probabilities", outDims)

        let sc = SpectrogramConfig(bins: model.config.bins)
        let recipe = ONNXSidecar.SpectrogramRecipe(
            preemphasis: sc.preemphasis, windowLength: sc.windowLength, hop: sc.hop, fftSize: sc.fftSize, bins: sc.bins,
            binsNote: sc.bins == sc.fftSize ? "all 512 FFT bins (the mirrored upper half repeats bins 255…1), as VGGVox"
                                            : "the one-sided \(sc.bins) bins 0…\(sc.fftSize / 2)",
            normalisation: sc.normalize ? "per bin over the clip's frames: (x - mean) / (std + epsilon), std with N-1 (MATLAB's std)" : "none",
            epsilon: sc.epsilon, frameRateHz: 16000 / Double(sc.hop),
            trainingCropSeconds: Double(SpectrogramConfig.cropSamples) / 16000, minimumFrames: model.minimumFrames)
        let sidecar = ONNXSidecar(
            kind: "student", model: model.config.name, classes: classes, opset: opset,
            input: .init(name: "spectrogram", shape: ["batch", "1", String(model.config.bins), "frames"],
                         layout: "NCHW: [batch, channel, frequency bin, time frame]; frames ≥ \(model.minimumFrames)"),
            outputs: outputs(classes.count), spectrogram: recipe, face: nil,
            batchNorm: "BatchNormalization nodes with running statistics (inference mode)")
        return (try wrap(b.graph, name: model.config.name, classes: classes), sidecar)
    }

    /// The face teacher as ONNX: input "face" [batch, 1, H, W] (preprocessed grey crops), outputs "logits"
    /// (the input of the Keras softmax) and "probabilities". The graph is the one emovox runs, with the
    /// BatchNorms that follow a conv already folded into it (w·s, b·s + t).
    public static func teacher(_ teacher: FaceTeacher) throws -> (model: Onnx_ModelProto, sidecar: ONNXSidecar) {
        if let seq = teacher.network.layerSequence { return try sequentialTeacher(teacher, layers: seq) }
        guard let net = teacher.network as? KerasGraphNetwork else {
            throw EmovoxError("this teacher's network (\(type(of: teacher.network))) has no ONNX exporter", file: teacher.network.source)
        }
        var b = ONNXGraphBuilder(name: "emovox_teacher")
        let (c, hgt, wid) = (net.inputShape[0], net.inputShape[1], net.inputShape[2])
        var values: [String: String] = [:]
        var logits: String?
        for node in net.nodes {
            let ins = node.inputs.map { values[$0]! }
            let out: String
            switch node.op {
            case .input:
                out = b.input("face", [.symbolic("batch"), .fixed(c), .fixed(hgt), .fixed(wid)])
            case let .layer(l):
                out = try b.emit(l, input: ins[0], name: node.name, source: net.source)
            case let .separable(dw, pw):
                out = try b.emit(pw, input: b.emit(dw, input: ins[0], name: node.name + "_depthwise", source: net.source),
                                 name: node.name + "_pointwise", source: net.source)
            case let .activation(a):
                switch a {
                case .relu: out = b.node("Relu", ins, name: node.name)
                case .softmax: out = b.node("Softmax", ins, name: node.name, attributes: [ONNXGraphBuilder.int("axis", 1)])
                case .linear: out = ins[0]  // linear, folded BN, dropout
                }
            case .add:
                out = ins.dropFirst().reduce(ins[0]) { b.node("Add", [$0, $1], name: node.name) }
            }
            values[node.name] = out
            if node.name == net.logitsNode { logits = out; break }
        }
        guard let logits else { throw EmovoxError("teacher graph never reaches its logits node \(net.logitsNode)", file: net.source) }
        let flat = b.node("Flatten", [logits], name: "logits_flatten", attributes: [ONNXGraphBuilder.int("axis", 1)])
        let outDims: [ONNXDimension] = [.symbolic("batch"), .fixed(teacher.labels.count)]
        b.output(flat, as: "logits", outDims)
        b.output(b.node("Softmax", [flat], name: "softmax", attributes: [ONNXGraphBuilder.int("axis", 1)]), as: "probabilities", outDims)
        let sidecar = ONNXSidecar(
            kind: "teacher", model: teacher.name, classes: teacher.labels, opset: opset,
            input: .init(name: "face", shape: ["batch", String(c), String(hgt), String(wid)],
                         layout: "NCHW: [batch, channel (grey), row, column]"),
            outputs: outputs(teacher.labels.count), spectrogram: nil, face: .init(teacher.cropRecipe, height: hgt, width: wid),
            batchNorm: "folded into the preceding convolution where it has one; otherwise BatchNormalization")
        return (try wrap(b.graph, name: teacher.name, classes: teacher.labels), sidecar)
    }

    /// A teacher trained by emovox (a plain layer sequence ending in [batch, classes] logits): BatchNorm stays as
    /// BatchNormalization nodes with the running statistics, as for students.
    static func sequentialTeacher(_ teacher: FaceTeacher, layers: Sequential) throws -> (model: Onnx_ModelProto, sidecar: ONNXSidecar) {
        var b = ONNXGraphBuilder(name: "emovox_teacher")
        let shape = teacher.network.inputShape
        let face = b.input("face", [.symbolic("batch"), .fixed(shape[0]), .fixed(shape[1]), .fixed(shape[2])])
        let flip = (teacher.network as? TestTimeFlipping)?.testTimeFlip ?? false
        var h = face
        if flip {
            // Test-time flip: the batch and its mirror image (columns reversed) in one pass, logits averaged.
            let mirrored = b.node("Slice", [face, b.int64Initializer("flip_starts", [-1]), b.int64Initializer("flip_ends", [Int64.min]),
                                            b.int64Initializer("flip_axes", [3]), b.int64Initializer("flip_steps", [-1])], name: "mirror")
            h = b.node("Concat", [face, mirrored], name: "with_mirror", attributes: [ONNXGraphBuilder.int("axis", 0)])
        }
        for (name, layer) in layers.layers { h = try b.emit(layer, input: h, name: name, source: teacher.network.source) }
        if flip {
            let pairs = b.node("Reshape", [h, b.int64Initializer("pair_shape", [2, -1, Int64(teacher.labels.count)])], name: "pairs")
            h = b.node("ReduceMean", [pairs], name: "flip_mean", attributes: [ONNXGraphBuilder.ints("axes", [0]), ONNXGraphBuilder.int("keepdims", 0)])
        }
        let offsets = (teacher.network as? TestTimeFlipping)?.logitOffsets
        if let offsets {
            h = b.node("Add", [h, b.initializer("logit_offsets", Tensor(shape: [1, offsets.count], data: offsets))], name: "offsets")
        }
        let outDims: [ONNXDimension] = [.symbolic("batch"), .fixed(teacher.labels.count)]
        b.output(h, as: "logits", outDims)
        b.output(b.node("Softmax", [h], name: "softmax", attributes: [ONNXGraphBuilder.int("axis", 1)]), as: "probabilities", outDims)
        let sidecar = ONNXSidecar(
            kind: "teacher", model: teacher.name, classes: teacher.labels, opset: opset,
            input: .init(name: "face", shape: ["batch"] + shape.map(String.init), layout: "NCHW: [batch, channel (grey), row, column]"),
            outputs: outputs(teacher.labels.count), spectrogram: nil, face: .init(teacher.cropRecipe, height: shape[1], width: shape[2]),
            batchNorm: "BatchNormalization nodes with running statistics (inference mode)"
                + (flip ? "; logits are the mean of the face's and its mirror image's (test-time flip, inside the graph)" : "")
                + (offsets != nil ? "; per-class logit offsets chosen on Valid are added inside the graph" : ""))
        return (try wrap(b.graph, name: teacher.name, classes: teacher.labels), sidecar)
    }

    static func outputs(_ classes: Int) -> [ONNXSidecar.Value] {
        [.init(name: "logits", shape: ["batch", String(classes)], layout: "[batch, class] in the order of 'classes'"),
         .init(name: "probabilities", shape: ["batch", String(classes)], layout: "softmax of the logits")]
    }

    static func wrap(_ graph: Onnx_GraphProto, name: String, classes: [String]) throws -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = irVersion
        var op = Onnx_OperatorSetIdProto()
        op.domain = ""; op.version = Int64(opset)
        m.opsetImport = [op]
        m.producerName = "emovox"
        m.producerVersion = "1"
        m.docString = "\(name) exported by emovox; class names, input layout and transform in the .json beside this file"
        m.graph = graph
        var labels = Onnx_StringStringEntryProto()
        labels.key = "classes"; labels.value = String(decoding: try JSONEncoder().encode(classes), as: UTF8.self)
        m.metadataProps = [labels]
        return m
    }

    /// Writes `model` to `path` and the sidecar to `path + ".json"`, both atomically.
    public static func write(_ model: Onnx_ModelProto, sidecar: ONNXSidecar, to path: String) throws {
        let bytes: Data = try model.serializedBytes()
        try AtomicFile.write(bytes, to: path)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(try enc.encode(sidecar), to: path + ".json")
    }
}

extension ONNXExport {
    /// Exports a student checkpoint (.safetensors), a Keras teacher (.hdf5/.h5) or a teacher manifest
    /// (.json beside its .f32 blob) to `onnxPath` (+ `.json`). Returns the sidecar written.
    @discardableResult
    public static func export(_ checkpoint: String, to onnxPath: String, labels: [String]? = nil) throws -> ONNXSidecar {
        let ext = (checkpoint as NSString).pathExtension.lowercased()
        let result: (model: Onnx_ModelProto, sidecar: ONNXSidecar)
        switch ext {
        case "safetensors":
            let (model, classes, _) = try StudentCheckpoint.load(checkpoint)
            result = try student(model, classes: labels ?? classes, source: checkpoint)
        case "hdf5", "h5":
            result = try teacher(try FaceTeacher.load(hdf5: checkpoint, labels: labels))
        case "json":
            result = try teacher(try FaceTeacher.loadManifest(json: checkpoint, blob: (checkpoint as NSString).deletingPathExtension + ".f32"))
        default:
            throw EmovoxError("cannot tell the model kind: a student checkpoint is .safetensors, a Keras teacher .hdf5/.h5, a teacher manifest .json", file: checkpoint)
        }
        try write(result.model, sidecar: result.sidecar, to: onnxPath)
        return result.sidecar
    }
}
