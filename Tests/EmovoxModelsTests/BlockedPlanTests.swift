import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxModels

/// KerasGraphNetwork's blocked path (KerasBlockedPlan over BlockedKernels) against its layer-by-layer im2col path:
/// fer's mini-Xception architecture with random weights and BN statistics, graphs that exercise the unfused steps
/// (a ReLU and an Add whose inputs are read again later), a graph the plan refuses, and fer's real model on its
/// reference crops when ../shared is present.
final class BlockedPlanTests: XCTestCase {
    var levels: [ConvSIMDLevel] { ConvSIMDLevel.allCases.filter(\.isSupported) }

    /// Builds Keras layer descriptions with random weights (Keras layouts), like the importer gets them from HDF5.
    struct Builder {
        var rng: SeededRNG
        var layers: [KerasLayerDescription] = []
        var channels: [String: Int] = [:]

        init(seed: UInt64, input: [Int]) {
            rng = SeededRNG(seed: seed)
            layers = [KerasLayerDescription(name: "input_1", className: "InputLayer", inputs: [],
                                            config: ["batch_input_shape": [NSNull(), input[1], input[2], input[0]]])]
            channels["input_1"] = input[0]
        }

        mutating func tensor(_ shape: [Int], scale: Float = 1, offset: Float = 0) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * scale + offset })
        }

        @discardableResult
        mutating func add(_ name: String, _ cls: String, _ inputs: [String], _ config: [String: Any] = [:], _ weights: [String: Tensor] = [:], out: Int? = nil) -> String {
            layers.append(KerasLayerDescription(name: name, className: cls, inputs: inputs, config: config, weights: weights))
            channels[name] = out ?? channels[inputs[0]]!
            return name
        }

        mutating func conv(_ name: String, _ input: String, _ filters: Int, k: Int, stride: Int = 1, padding: String, bias: Bool = false) -> String {
            let cin = channels[input]!
            var w = ["kernel": tensor([k, k, cin, filters], scale: (2 / Float(k * k * cin)).squareRoot())]
            if bias { w["bias"] = tensor([filters], scale: 0.1) }
            return add(name, "Conv2D", [input], ["filters": filters, "kernel_size": [k, k], "strides": [stride, stride], "padding": padding,
                                                  "activation": "linear", "use_bias": bias], w, out: filters)
        }

        mutating func separable(_ name: String, _ input: String, _ filters: Int) -> String {
            let cin = channels[input]!
            return add(name, "SeparableConv2D", [input], ["filters": filters, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                                                          "activation": "linear", "use_bias": false],
                       ["depthwise_kernel": tensor([3, 3, cin, 1], scale: 1 / 3), "pointwise_kernel": tensor([1, 1, cin, filters], scale: (2 / Float(cin)).squareRoot())],
                       out: filters)
        }

        mutating func bn(_ name: String, _ input: String) -> String {
            let c = channels[input]!
            return add(name, "BatchNormalization", [input], ["epsilon": 1e-3],
                       ["gamma": tensor([c], scale: 0.2, offset: 1), "beta": tensor([c], scale: 0.2), "moving_mean": tensor([c], scale: 0.2),
                        "moving_variance": Tensor(shape: [c], data: (0..<c).map { _ in 0.5 + abs(rng.normal()) })])
        }

        mutating func relu(_ name: String, _ input: String) -> String { add(name, "Activation", [input], ["activation": "relu"]) }

        mutating func maxPool(_ name: String, _ input: String) -> String {
            add(name, "MaxPooling2D", [input], ["pool_size": [3, 3], "strides": [2, 2], "padding": "same"])
        }
    }

    /// fer's mini-Xception (its layer names and order): 2 plain convs with 8 channels, 4 residual separable modules,
    /// a 3×3 conv to `classes`, global average pooling, softmax.
    static func miniXception(seed: UInt64, size: Int = 64, classes: Int = 7) throws -> KerasGraphNetwork {
        var b = Builder(seed: seed, input: [1, size, size])
        var x = b.relu("activation_1", b.bn("batch_normalization_1", b.conv("conv2d_1", "input_1", 8, k: 3, padding: "valid")))
        x = b.relu("activation_2", b.bn("batch_normalization_2", b.conv("conv2d_2", x, 8, k: 3, padding: "valid")))
        var bn = 3, sep = 1, conv = 3, act = 3
        for (stage, filters) in [16, 32, 64, 128].enumerated() {
            let residual = b.bn("batch_normalization_\(bn)", b.conv("conv2d_\(conv)", x, filters, k: 1, stride: 2, padding: "same"))
            var y = b.relu("activation_\(act)", b.bn("batch_normalization_\(bn + 1)", b.separable("separable_conv2d_\(sep)", x, filters)))
            y = b.bn("batch_normalization_\(bn + 2)", b.separable("separable_conv2d_\(sep + 1)", y, filters))
            y = b.maxPool("max_pooling2d_\(stage + 1)", y)
            x = b.add("add_\(stage + 1)", "Add", [y, residual])
            bn += 3; sep += 2; conv += 1; act += 1
        }
        x = b.conv("conv2d_7", x, classes, k: 3, padding: "same", bias: true)
        x = b.add("global_average_pooling2d_1", "GlobalAveragePooling2D", [x])
        b.add("predictions", "Activation", [x], ["activation": "softmax"])
        return try KerasGraphNetwork(layers: b.layers, source: "mini-xception(seed \(seed))")
    }

    func randomInput(_ net: KerasGraphNetwork, n: Int, seed: UInt64) -> Tensor {
        var rng = SeededRNG(seed: seed)
        return Tensor(shape: [n] + net.inputShape, data: (0..<(n * net.inputShape.reduce(1, *))).map { _ in rng.uniform() * 2 - 1 })
    }

    /// max |a − b| / max(1, max |b|): logits compared at the scale of the largest one.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = max(1, b.data.map(abs).max() ?? 0)
        return zip(a.data, b.data).map { abs($0 - $1) }.max()! / scale
    }

    /// The blocked path at every SIMD level within 1e-4 (relative) of the per-layer path on `x`.
    func assertBlockedMatchesPerLayer(_ net: KerasGraphNetwork, _ x: Tensor, file: StaticString = #filePath, line: UInt = #line) {
        let reference = logits(net, x, .perLayer)
        for level in levels {
            XCTAssertLessThanOrEqual(relativeError(logits(net, x, .blocked, level: level), reference), 1e-4, "at \(level)", file: file, line: line)
        }
    }

    func logits(_ net: KerasGraphNetwork, _ x: Tensor, _ path: KerasGraphNetwork.InferencePath, level: ConvSIMDLevel = .best) -> Tensor {
        net.inferencePath = path; net.simdLevel = level
        defer { net.inferencePath = .blocked; net.simdLevel = .best }
        return net.logits(x)
    }

    func testMiniXceptionBlockedMatchesPerLayerAtEveryLevel() throws {
        let net = try Self.miniXception(seed: 41)
        XCTAssertTrue(net.runsBlocked)
        let plan = try XCTUnwrap(net.blockedPlan)
        // Every conv and separable fused with its folded BN (and ReLU), every pool with its Add: 21 steps for 45 nodes.
        XCTAssertEqual(plan.steps.map(\.kind).filter { $0 == "MaxPool+Add" }.count, 4)
        XCTAssertEqual(plan.steps.map(\.kind).filter { $0.hasSuffix("+ReLU") }.count, 6)
        XCTAssertEqual(plan.steps.count, 21)
        let x = randomInput(net, n: 5, seed: 42)
        let reference = logits(net, x, .perLayer)
        for level in levels {
            let got = logits(net, x, .blocked, level: level)
            XCTAssertEqual(got.shape, [5, 7])
            XCTAssertLessThanOrEqual(relativeError(got, reference), 1e-4, "at \(level)")
        }
    }

    /// One image (rows split over the threads) and a batch (images over the threads) give bitwise the same logits on
    /// one and two threads, and a batch's rows equal the images run alone.
    func testOneAndTwoThreadsAndBatchingBitwiseIdentical() throws {
        let net = try Self.miniXception(seed: 43)
        let x = randomInput(net, n: 3, seed: 44)
        let one = Threads.withCount(1) { net.logits(x) }, two = Threads.withCount(2) { net.logits(x) }
        XCTAssertEqual(one.data, two.data)
        let plane = net.inputShape.reduce(1, *)
        for i in 0..<3 {
            let image = Tensor(shape: [1] + net.inputShape, data: Array(x.data[(i * plane)..<((i + 1) * plane)]))
            let alone1 = Threads.withCount(1) { net.logits(image) }, alone2 = Threads.withCount(2) { net.logits(image) }
            XCTAssertEqual(alone1.data, alone2.data, "image \(i)")
            XCTAssertEqual(alone1.data, Array(one.data[(i * 7)..<((i + 1) * 7)]), "image \(i) alone vs in the batch")
        }
    }

    /// Unfused steps: a ReLU whose input is read again (a copy), an Add with a three-way input (copy + adds), a max pool
    /// whose Add partner is read elsewhere (no fusion), an odd input size and a 3-channel input.
    func testUnfusedStepsMatchPerLayer() throws {
        var b = Builder(seed: 45, input: [3, 13, 11])
        let c1 = b.bn("bn_1", b.conv("conv_1", "input_1", 12, k: 3, padding: "same"))
        let r1 = b.relu("relu_1", c1)                                 // c1 read again below: ReLU on a copy
        let s1 = b.separable("sep_1", r1, 12)
        let sum = b.add("add_1", "Add", [s1, c1, r1])                // three inputs, c1 and r1 read again later
        let p = b.maxPool("pool_1", sum)
        let shortcut = b.conv("short_1", r1, 12, k: 1, stride: 2, padding: "same")
        let r2 = b.relu("relu_2", shortcut)                          // shortcut read twice: no in-place, no pool fusion
        let joined = b.add("add_2", "Add", [p, shortcut])
        let both = b.add("add_3", "Add", [joined, r2])
        let head = b.conv("head", b.add("relu_3", "ReLU", [both]), 5, k: 3, padding: "valid", bias: true)
        b.add("gap", "GlobalAveragePooling2D", [head])
        let net = try KerasGraphNetwork(layers: b.layers, source: "unfused")
        let plan = try XCTUnwrap(net.blockedPlan, "the plan compiles this graph")
        XCTAssertTrue(plan.steps.contains { $0.kind == "Copy" })
        XCTAssertFalse(plan.steps.contains { $0.kind == "MaxPool+Add" })
        let x = randomInput(net, n: 4, seed: 46)
        assertBlockedMatchesPerLayer(net, x)
    }

    /// A grey input pooled before any conv: the pool keeps the one-float stride, and the conv after it reads it.
    func testGreyInputPooledFirst() throws {
        var b = Builder(seed: 50, input: [1, 11, 10])
        let p = b.maxPool("pool_1", "input_1")
        let c = b.conv("conv_1", p, 9, k: 3, padding: "same", bias: true)
        b.add("gap", "GlobalAveragePooling2D", [b.relu("relu_1", c)])
        let net = try KerasGraphNetwork(layers: b.layers, source: "grey-pool")
        XCTAssertTrue(net.runsBlocked)
        let x = randomInput(net, n: 3, seed: 51)
        assertBlockedMatchesPerLayer(net, x)
    }

    /// A graph with an op the plan does not run (average pooling) keeps the per-layer path, with the same results.
    func testGraphThePlanRefusesRunsPerLayer() throws {
        var b = Builder(seed: 47, input: [1, 9, 9])
        let c = b.conv("conv_1", "input_1", 8, k: 3, padding: "same")
        let a = b.add("avg_1", "AveragePooling2D", [c], ["pool_size": [2, 2], "strides": [2, 2], "padding": "valid"])
        b.add("gap", "GlobalAveragePooling2D", [a])
        let net = try KerasGraphNetwork(layers: b.layers, source: "avgpool")
        XCTAssertNil(net.blockedPlan)
        XCTAssertFalse(net.runsBlocked)
        let x = randomInput(net, n: 2, seed: 48)
        XCTAssertEqual(logits(net, x, .blocked).data, logits(net, x, .perLayer).data)
    }

    /// fer's real teacher: the blocked path equals the per-layer path to 1e-4 on the reference crops and on random crops.
    func testRealFerTeacherBlockedMatchesPerLayer() throws {
        guard let dir = SharedData.path("teacher", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher (the fer mini-Xception and reference crops); absent on this checkout")
        }
        let teacher = try FaceTeacher.load(hdf5: dir + "/emotion_model.hdf5")
        let net = try XCTUnwrap(teacher.network as? KerasGraphNetwork)
        XCTAssertTrue(net.runsBlocked)
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/face_crops_64/golden_teacher_outputs.json"))) as! [String: Any]
        let crops = try (golden["items"] as! [[String: Any]]).flatMap { FaceTeacher.preprocess(try readPGM(dir + "/" + ($0["crop"] as! String)).pixels) }
        let real = Tensor(shape: [crops.count / 4096, 1, 64, 64], data: crops)
        for x in [real, randomInput(net, n: 6, seed: 49)] {
            assertBlockedMatchesPerLayer(net, x)
        }
    }
}
