import Foundation
import EmovoxCore
import EmovoxUtilities

/// One axis of a graph input or output: a fixed size or a named dynamic one ("batch", "frames").
public enum ONNXDimension: Equatable {
    case fixed(Int)
    case symbolic(String)
}

/// Builds an ONNX graph out of emovox layers, node by node. Weights become float32 initializers stored as
/// raw little-endian bytes (ONNX's layout for `raw_data`; every platform we build for is little-endian).
struct ONNXGraphBuilder {
    private(set) var graph = Onnx_GraphProto()
    private var used: Set<String> = []

    init(name: String) { graph.name = name }

    /// A value name not used before (layer names may repeat across graphs, never within one).
    mutating func fresh(_ base: String) -> String {
        var name = base, k = 1
        while used.contains(name) { k += 1; name = "\(base)_\(k)" }
        used.insert(name)
        return name
    }

    mutating func initializer(_ base: String, _ t: Tensor, shape: [Int]? = nil) -> String {
        var p = Onnx_TensorProto()
        p.name = fresh(base)
        p.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        p.dims = (shape ?? t.shape).map(Int64.init)
        p.rawData = t.data.withUnsafeBufferPointer { Data(buffer: $0) }
        graph.initializer.append(p)
        return p.name
    }

    /// An int64 constant (shapes, Slice bounds).
    mutating func int64Initializer(_ base: String, _ values: [Int64]) -> String {
        var p = Onnx_TensorProto()
        p.name = fresh(base)
        p.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        p.dims = [Int64(values.count)]
        p.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
        graph.initializer.append(p)
        return p.name
    }

    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], name: String, attributes: [Onnx_AttributeProto] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = fresh(name)
        n.input = inputs
        n.output = [n.name]
        n.attribute = attributes
        graph.node.append(n)
        return n.name
    }

    static func valueInfo(_ name: String, _ dims: [ONNXDimension]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .fixed(let v): dim.dimValue = Int64(v)
            case .symbolic(let s): dim.dimParam = s
            }
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }

    mutating func input(_ name: String, _ dims: [ONNXDimension]) -> String {
        used.insert(name)
        graph.input.append(Self.valueInfo(name, dims))
        return name
    }

    /// Renames the value `value` to `name` through an Identity node and declares it a graph output.
    mutating func output(_ value: String, as name: String, _ dims: [ONNXDimension]) {
        var n = Onnx_NodeProto()
        n.opType = "Identity"; n.name = fresh(name + "_identity"); n.input = [value]; n.output = [name]
        used.insert(name)
        graph.node.append(n)
        graph.output.append(Self.valueInfo(name, dims))
    }

    // MARK: attributes

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = values.map(Int64.init); return a
    }
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(value); return a
    }
    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = value; return a
    }
    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(value.utf8); return a
    }

    /// Explicit pads as ONNX [top, left, bottom, right]; Keras 'same' as SAME_UPPER (TensorFlow puts the
    /// odd pixel at the end, as SAME_UPPER does, and it then follows any input size).
    static func padding(_ p: Padding) -> [Onnx_AttributeProto] {
        switch p {
        case let .explicit(t, b, l, r): return [ints("pads", [t, l, b, r])]
        case .same: return [string("auto_pad", "SAME_UPPER")]
        }
    }

    // MARK: layers

    /// Emits the ONNX nodes computing one emovox layer at inference; returns the output value's name.
    mutating func emit(_ layer: Layer, input: String, name: String, source: String) throws -> String {
        switch layer {
        case let conv as Conv2D:
            var ins = [input, initializer(name + ".weight", conv.weight.value)]
            if let b = conv.bias { ins.append(initializer(name + ".bias", b.value)) }
            return node("Conv", ins, name: name, attributes: [
                Self.ints("kernel_shape", [conv.kernel.h, conv.kernel.w]), Self.ints("strides", [conv.stride.h, conv.stride.w]),
                Self.int("group", conv.groups)] + Self.padding(conv.padding))
        case let bn as BatchNorm:
            return node("BatchNormalization", [input, initializer(name + ".weight", bn.weight.value),
                                               initializer(name + ".bias", bn.bias.value),
                                               initializer(name + ".running_mean", bn.runningMean),
                                               initializer(name + ".running_var", bn.runningVar)],
                        name: name, attributes: [Self.float("epsilon", bn.epsilon)])
        case is ReLU:
            return node("Relu", [input], name: name)
        case let pool as MaxPool2D:
            return node("MaxPool", [input], name: name, attributes: [
                Self.ints("kernel_shape", [pool.kernel.h, pool.kernel.w]), Self.ints("strides", [pool.stride.h, pool.stride.w])]
                + Self.padding(pool.padding))
        case let pool as AvgPool2D:
            return node("AveragePool", [input], name: name, attributes: [
                Self.ints("kernel_shape", [pool.kernel.h, pool.kernel.w]), Self.ints("strides", [pool.stride.h, pool.stride.w]),
                Self.int("count_include_pad", pool.countPadding ? 1 : 0)] + Self.padding(pool.padding))
        case is GlobalAvgPool:
            // emovox's global pool yields [N, C]; ONNX's keeps [N, C, 1, 1].
            return node("Flatten", [node("GlobalAveragePool", [input], name: name)], name: name + "_flatten",
                        attributes: [Self.int("axis", 1)])
        case let mean as MeanOverAxis:
            return node("ReduceMean", [input], name: name, attributes: [Self.ints("axes", [mean.axis]), Self.int("keepdims", 1)])
        case is Flatten:
            return node("Flatten", [input], name: name, attributes: [Self.int("axis", 1)])
        case is Dropout:
            return input  // identity at inference
        case let fc as Linear:
            return node("Gemm", [input, initializer(name + ".weight", fc.weight.value), initializer(name + ".bias", fc.bias.value)],
                        name: name, attributes: [Self.int("transB", 1)])
        case let seq as Sequential:
            return try seq.layers.reduce(input) { try emit($1.layer, input: $0, name: name + "." + $1.name, source: source) }
        case let r as Residual:
            let body = try emit(r.body, input: input, name: name + ".body", source: source)
            let skip = try r.shortcut.map { try emit($0, input: input, name: name + ".shortcut", source: source) } ?? input
            return node("Add", [body, skip], name: name + ".add")
        default:
            throw EmovoxError("layer '\(name)' (\(type(of: layer))) has no ONNX export", file: source)
        }
    }
}
