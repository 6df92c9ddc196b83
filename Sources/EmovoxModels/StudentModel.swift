import Foundation
import EmovoxCore
import EmovoxUtilities

/// The student nets: the paper's VGG-M and the CPU-sized variant.
public enum StudentModelName: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    case vggm
    case vggmSmall = "vggm-small"
    /// Printed by name (as on the command line and in files).
    public var description: String { rawValue }
}

/// The VGGVox VGG-M speech CNN (Nagrani et al.) with batch norm, as the paper's student, and a CPU-sized
/// variant. Input [N, 1, bins, frames]; any number of frames works because fc6 output is averaged over time.
public struct StudentConfig: Codable, Equatable {
    public var name: String
    public var bins: Int                 // spectrogram bins: 512 (VGGVox) or 257 (one-sided)
    public var channels: [Int]           // conv1…conv5
    public var fc6: Int
    public var fc7: Int
    public var classes: Int
    public var dropout: Float

    public static func vggm(classes: Int) -> StudentConfig {
        StudentConfig(name: "vggm", bins: 512, channels: [96, 256, 384, 256, 256], fc6: 4096, fc7: 1024, classes: classes, dropout: 0)
    }

    /// ~20× fewer MACs than vggm: trains the demo in minutes on 2 cores.
    public static func vggmSmall(classes: Int) -> StudentConfig {
        StudentConfig(name: "vggm-small", bins: 257, channels: [32, 64, 96, 96, 64], fc6: 256, fc7: 128, classes: classes, dropout: 0)
    }

    public static let names = StudentModelName.allCases.map(\.rawValue)

    public static func named(_ name: StudentModelName, classes: Int) -> StudentConfig {
        switch name {
        case .vggm: return .vggm(classes: classes)
        case .vggmSmall: return .vggmSmall(classes: classes)
        }
    }

    /// By name, for names that come from files or mixed arguments (typed options use `StudentModelName`).
    public static func named(_ name: String, classes: Int) throws -> StudentConfig {
        guard let n = StudentModelName(rawValue: name) else { throw EmovoxError("unknown model '\(name)' (known: \(names.joined(separator: ", ")))") }
        return named(n, classes: classes)
    }

    /// Height left after conv1…mpool5 for `bins` input rows: fc6 is a (height × 1) conv spanning it.
    public var fc6Height: Int {
        var h = bins
        h = (h + 2 - 7) / 2 + 1      // conv1 7×7 s2 p1
        h = (h - 3) / 2 + 1          // mpool1 3/2
        h = (h + 2 - 5) / 2 + 1      // conv2 5×5 s2 p1
        h = (h - 3) / 2 + 1          // mpool2 3/2
        h = (h - 5) / 3 + 1          // mpool5 5×3 stride (3,2)
        return h
    }
}

public final class StudentModel {
    public let config: StudentConfig
    public let network: Sequential
    /// Index in `network.layers` of the fc7 ReLU: its output (after time averaging) is the embedding.
    public let embeddingLayer: String = "relu7"

    public init(config: StudentConfig, rng: inout SeededRNG) {
        self.config = config
        let c = config.channels
        var layers: [(String, Layer)] = []
        func convBlock(_ i: Int, _ cin: Int, _ cout: Int, kernel: (Int, Int), stride: (Int, Int), pad: Int) {
            layers.append(("conv\(i)", Conv2D(cin, cout, kernel: kernel, stride: stride, padding: .symmetric(pad, pad), bias: false, rng: &rng)))
            layers.append(("bn\(i)", BatchNorm(cout)))
            layers.append(("relu\(i)", ReLU()))
        }
        convBlock(1, 1, c[0], kernel: (7, 7), stride: (2, 2), pad: 1)
        layers.append(("mpool1", MaxPool2D(kernel: (3, 3), stride: (2, 2))))
        convBlock(2, c[0], c[1], kernel: (5, 5), stride: (2, 2), pad: 1)
        layers.append(("mpool2", MaxPool2D(kernel: (3, 3), stride: (2, 2))))
        convBlock(3, c[1], c[2], kernel: (3, 3), stride: (1, 1), pad: 1)
        convBlock(4, c[2], c[3], kernel: (3, 3), stride: (1, 1), pad: 1)
        convBlock(5, c[3], c[4], kernel: (3, 3), stride: (1, 1), pad: 1)
        layers.append(("mpool5", MaxPool2D(kernel: (5, 3), stride: (3, 2))))
        convBlock(6, c[4], config.fc6, kernel: (config.fc6Height, 1), stride: (1, 1), pad: 0)
        layers.append(("apool6", MeanOverAxis(axis: 3)))   // average over time: any input length works
        convBlock(7, config.fc6, config.fc7, kernel: (1, 1), stride: (1, 1), pad: 0)
        if config.dropout > 0 { layers.append(("drop7", Dropout(config.dropout, rng: &rng))) }
        layers.append(("fc8", Conv2D(config.fc7, config.classes, kernel: (1, 1), bias: true, rng: &rng)))
        layers.append(("flatten", Flatten()))
        (layers[0].1 as? Conv2D)?.computesInputGradient = false
        network = Sequential(layers)
    }

    /// Logits [N, classes] for spectrograms [N, 1, bins, frames].
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 1 && x.shape[2] == config.bins,
                     "student \(config.name) needs [N, 1, \(config.bins), frames], got \(x.shape)")
        return network.forward(x, training: training)
    }

    public func backward(_ dLogits: Tensor) { _ = network.backward(dLogits) }

    /// Logits and the fc7 embedding (time-averaged, after ReLU) in one inference pass.
    public func logitsAndEmbedding(_ x: Tensor) -> (logits: Tensor, embedding: Tensor) {
        var h = x
        var emb = Tensor(zeros: [x.shape[0], config.fc7])
        for (name, layer) in network.layers {
            h = layer.forward(h, training: false)
            if name == embeddingLayer { emb = h.reshaped([x.shape[0], -1]) }
        }
        return (h, emb)
    }

    /// Shortest input (frames) the network accepts: mpool5's 3-wide window must fit.
    public var minimumFrames: Int { 53 }

    public var parameterCount: Int { network.parameters.reduce(0) { $0 + $1.value.count } }
}

/// Layer-by-layer summary: output shape, parameters and multiply-accumulates for one input.
public struct LayerSummaryRow: Codable {
    public let name: String, kind: String, outputShape: [Int], parameters: Int, macs: Int
}

public enum ModelSummary {
    /// Walks the network with shape arithmetic only (no compute), so even vggm on 10 s is instant.
    public static func rows(_ net: Sequential, input: [Int]) -> [LayerSummaryRow] {
        var shape = input
        var out: [LayerSummaryRow] = []
        for (name, layer) in net.layers {
            var macs = 0
            switch layer {
            case let conv as Conv2D:
                let g = conv.geometry(shape[2], shape[3])
                shape = [shape[0], conv.outChannels, g.outH, g.outW]
                macs = g.outH * g.outW * conv.outChannels * (conv.inChannels / conv.groups) * conv.kernel.h * conv.kernel.w
            case let pool as MaxPool2D:
                let g = WindowGeometry(inH: shape[2], inW: shape[3], kh: pool.kernel.h, kw: pool.kernel.w, sh: pool.stride.h, sw: pool.stride.w, padding: pool.padding)
                shape = [shape[0], shape[1], g.outH, g.outW]
            case let m as MeanOverAxis:
                shape[m.axis] = 1
            case is GlobalAvgPool:
                shape = [shape[0], shape[1]]
            case let r as Residual:
                // A residual block: the body gives the shape; body and shortcut both cost MACs.
                let parts = [r.body, r.shortcut].compactMap { $0 as? Sequential }.map { rows($0, input: [1] + shape.dropFirst()) }
                macs = parts.reduce(0) { $0 + $1.reduce(0) { $0 + $1.macs } }
                if let last = parts.first?.last { shape = [shape[0]] + last.outputShape.dropFirst() }
            case is Flatten:
                shape = [shape[0], shape.dropFirst().reduce(1, *)]
            case let l as Linear:
                shape = [shape[0], l.outFeatures]
                macs = l.inFeatures * l.outFeatures
            default: break
            }
            out.append(LayerSummaryRow(name: name, kind: String(describing: type(of: layer)), outputShape: shape,
                                       parameters: layer.parameters.reduce(0) { $0 + $1.value.count }, macs: macs * input[0]))
        }
        return out
    }
}
