import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import EmovoxCore
import EmovoxUtilities

/// A face box in pixels.
public struct Box: Equatable, Codable {
    public var x, y, width, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) { self.x = x; self.y = y; self.width = width; self.height = height }
    public var area: Int { width * height }

    public func iou(_ o: Box) -> Double {
        let ix = max(0, min(x + width, o.x + o.width) - max(x, o.x)), iy = max(0, min(y + height, o.y + o.height) - max(y, o.y))
        let inter = Double(ix * iy)
        return inter / Double(area + o.area - ix * iy)
    }
}

/// OpenCV's Haar cascade (new XML format, untilted features) evaluated the way `CascadeClassifier`
/// does: the image is scaled down by factor^k, each scale gets integral images, a 24×24 window slides
/// with a 2-pixel step, features are normalised by the window's standard deviation, stages reject early,
/// and the survivors are grouped by `groupRectangles`.
public final class HaarCascade {
    struct Feature { var rects: [(x: Int, y: Int, w: Int, h: Int, weight: Float)] }
    struct Stump { var feature: Int; var threshold: Float; var left: Float; var right: Float }
    struct Stage { var threshold: Float; var stumps: [Stump] }

    public let windowWidth: Int, windowHeight: Int
    /// The cascade as flat arrays for the sliding-window loop (no nested arrays there, so no reference
    /// counting or bounds checks per stump): stage s owns stumps stageEnd[s-1]..<stageEnd[s], stump t owns rectangles
    /// rectStart[t]..<rectStart[t+1] of its feature, in the cascade's order (same sums, same rounding).
    let stageEnd: [Int], stageThreshold: [Float]
    let stumpThreshold: [Float], stumpLeft: [Float], stumpRight: [Float], rectStart: [Int]
    let rectWeight: [Float], rectBox: [(x: Int, y: Int, w: Int, h: Int)]

    public convenience init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read the cascade file", file: path) }
        try self.init(data: data, name: path)
    }

    public init(data: Data, name path: String) throws {
        // swift-corelibs-foundation's XMLParser traps on a tag or attribute name that is not UTF-8 (swiftlang/
        // swift-corelibs-foundation#5534, open): refuse such bytes before it sees them.
        guard String(data: data, encoding: .utf8) != nil else { throw EmovoxError("not a cascade: the file is not UTF-8 text", file: path) }
        let reader = CascadeXMLReader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse() else { throw EmovoxError("not a valid XML cascade: \(parser.parserError.map { "\($0)" } ?? "parse error")", file: path) }
        if reader.tilted { throw EmovoxError("tilted Haar features are not supported", file: path) }
        if reader.unsupportedTree { throw EmovoxError("only stump (depth-1) Haar trees are supported", file: path) }
        guard reader.width > 0, reader.height > 0, !reader.stages.isEmpty, !reader.features.isEmpty else {
            throw EmovoxError("not an OpenCV Haar cascade in the new XML format (no stages/features)", file: path)
        }
        guard reader.width <= 1024, reader.height <= 1024 else {
            throw EmovoxError("window \(reader.width)×\(reader.height) is larger than any cascade's", file: path)
        }
        for s in reader.stages {
            guard s.threshold.isFinite else { throw EmovoxError("a stage threshold is not a finite number", file: path) }
            for st in s.stumps {
                guard (0..<reader.features.count).contains(st.feature) else {
                    throw EmovoxError("a weak classifier refers to feature \(st.feature) of \(reader.features.count)", file: path)
                }
                guard st.threshold.isFinite, st.left.isFinite, st.right.isFinite else {
                    throw EmovoxError("a weak classifier's threshold or leaf value is not a finite number", file: path)
                }
            }
        }
        // Rectangles outside the detection window would read outside the integral image.
        for (i, f) in reader.features.enumerated() {
            for r in f.rects where r.x < 0 || r.y < 0 || r.w < 0 || r.h < 0 || r.x + r.w > reader.width || r.y + r.h > reader.height || !r.weight.isFinite {
                throw EmovoxError("feature \(i) has a rectangle (\(r.x), \(r.y), \(r.w), \(r.h)) outside the \(reader.width)×\(reader.height) window", file: path)
            }
        }
        windowWidth = reader.width; windowHeight = reader.height
        let stages = reader.stages, features = reader.features
        var ends: [Int] = [], starts = [0], weights: [Float] = [], boxes: [(x: Int, y: Int, w: Int, h: Int)] = []
        for stage in stages {
            for st in stage.stumps {
                for r in features[st.feature].rects { weights.append(r.weight); boxes.append((r.x, r.y, r.w, r.h)) }
                starts.append(weights.count)
            }
            ends.append(starts.count - 1)
        }
        let stumps = stages.flatMap(\.stumps)
        stageEnd = ends; stageThreshold = stages.map(\.threshold)
        stumpThreshold = stumps.map(\.threshold); stumpLeft = stumps.map(\.left); stumpRight = stumps.map(\.right)
        rectStart = starts; rectWeight = weights; rectBox = boxes
    }

    public struct Options {
        public var scaleFactor = 1.1
        public var minNeighbors = 5
        public var minSize = 0
        /// Largest window side searched (0: no limit), as OpenCV's maxSize.
        public var maxSize = 0
        public init(scaleFactor: Double = 1.1, minNeighbors: Int = 5, minSize: Int = 0, maxSize: Int = 0) {
            self.scaleFactor = scaleFactor; self.minNeighbors = minNeighbors; self.minSize = minSize; self.maxSize = maxSize
        }
    }

    /// `detectMultiScale(image, scaleFactor, minNeighbors, minSize)`.
    public func detect(_ img: GrayImage, options: Options = Options()) -> [Box] {
        var scales: [Double] = []
        var factor = 1.0
        while true {
            let ww = Int((Double(windowWidth) * factor).rounded()), wh = Int((Double(windowHeight) * factor).rounded())
            let sw = Int((Double(img.width) / factor).rounded()), sh = Int((Double(img.height) / factor).rounded())
            if ww > img.width || wh > img.height || sw < windowWidth || sh < windowHeight { break }
            if options.maxSize > 0 && (ww > options.maxSize || wh > options.maxSize) { break }
            if ww >= options.minSize && wh >= options.minSize { scales.append(factor) }
            factor *= options.scaleFactor
        }
        var perScale = [[Box]](repeating: [], count: scales.count)
        // One work item per scale, handed out dynamically: the first scales cost far more than the last,
        // so contiguous halves would leave one core idle.
        perScale.withUnsafeMutableBufferPointer { out in
            if Threads.available > 1 {
                DispatchQueue.concurrentPerform(iterations: scales.count) { i in out[i] = self.detectAtScale(img, scales[i]) }
            } else {
                for i in scales.indices { out[i] = self.detectAtScale(img, scales[i]) }
            }
        }
        return Self.groupRectangles(perScale.flatMap { $0 }, groupThreshold: options.minNeighbors, eps: 0.2)
    }

    func detectAtScale(_ img: GrayImage, _ factor: Double) -> [Box] {
        let sw = Int((Double(img.width) / factor).rounded()), sh = Int((Double(img.height) / factor).rounded())
        let scaled = (sw == img.width && sh == img.height) ? img : Resize.bilinear(img, width: sw, height: sh)
        // Integral images with a zero first row/column; squares in Int64 (exact).
        let W = sw + 1
        var sum = [Int32](repeating: 0, count: W * (sh + 1)), sq = [Int64](repeating: 0, count: W * (sh + 1))
        scaled.pixels.withUnsafeBufferPointer { px in sum.withUnsafeMutableBufferPointer { s in sq.withUnsafeMutableBufferPointer { q in
            HaarKernels.integralImages(px.baseAddress!, width: sw, height: sh, sum: s.baseAddress!, squares: q.baseAddress!)
        } } }
        let winW = Int((Double(windowWidth) * factor).rounded()), winH = Int((Double(windowHeight) * factor).rounded())
        let step = factor > 2 ? 1 : 2
        var found: [Box] = []
        // Each rectangle's four corners as offsets from the window's corner in this scale's integral image.
        var corners: [Int] = []
        corners.reserveCapacity(4 * rectBox.count)
        for r in rectBox {
            let top = r.y * W + r.x, bottom = (r.y + r.h) * W + r.x
            corners += [top, top + r.w, bottom, bottom + r.w]
        }
        sum.withUnsafeBufferPointer { s in sq.withUnsafeBufferPointer { q in
        corners.withUnsafeBufferPointer { cn in rectWeight.withUnsafeBufferPointer { rw in rectStart.withUnsafeBufferPointer { rs in
        stageEnd.withUnsafeBufferPointer { se in stageThreshold.withUnsafeBufferPointer { sth in
        stumpThreshold.withUnsafeBufferPointer { th in stumpLeft.withUnsafeBufferPointer { lf in stumpRight.withUnsafeBufferPointer { rt in
            let tables = HaarKernels.Cascade(stageEnd: se, stageThreshold: sth.baseAddress!, stumpThreshold: th.baseAddress!,
                                             stumpLeft: lf.baseAddress!, stumpRight: rt.baseAddress!, rectStart: rs.baseAddress!,
                                             rectWeight: rw.baseAddress!, corners: cn.baseAddress!)
            HaarKernels.scan(sum: s.baseAddress!, squares: q.baseAddress!, width: sw, height: sh, windowWidth: windowWidth,
                             windowHeight: windowHeight, step: step, cascade: tables) { x, y in
                found.append(Box(x: Int((Double(x) * factor).rounded()), y: Int((Double(y) * factor).rounded()), width: winW, height: winH))
            }
        } } } } } } } } } }
        return found
    }

    /// cv::groupRectangles: cluster by similarity (eps), average each cluster, drop clusters with
    /// ≤ groupThreshold members and clusters nested inside a stronger one.
    public static func groupRectangles(_ rects: [Box], groupThreshold: Int, eps: Double) -> [Box] {
        guard groupThreshold > 0 else { return rects }
        var parent = Array(rects.indices)
        func find(_ i: Int) -> Int { var i = i; while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }; return i }
        func similar(_ a: Box, _ b: Box) -> Bool {
            let delta = eps * Double(min(a.width, b.width) + min(a.height, b.height)) * 0.5
            return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
                && Double(abs(a.x + a.width - b.x - b.width)) <= delta && Double(abs(a.y + a.height - b.y - b.height)) <= delta
        }
        for i in rects.indices { for j in rects.indices where j > i && similar(rects[i], rects[j]) {
            let a = find(i), b = find(j); if a != b { parent[a] = b }
        } }
        var order: [Int: Int] = [:]
        var sums: [(x: Int, y: Int, w: Int, h: Int, n: Int)] = []
        for i in rects.indices {
            let r = find(i)
            let k = order[r] ?? { order[r] = sums.count; sums.append((0, 0, 0, 0, 0)); return sums.count - 1 }()
            sums[k].x += rects[i].x; sums[k].y += rects[i].y; sums[k].w += rects[i].width; sums[k].h += rects[i].height; sums[k].n += 1
        }
        let avg = sums.map { s -> (Box, Int) in
            let f = 1 / Float(s.n)
            return (Box(x: Int((Float(s.x) * f).rounded()), y: Int((Float(s.y) * f).rounded()),
                        width: Int((Float(s.w) * f).rounded()), height: Int((Float(s.h) * f).rounded())), s.n)
        }
        var out: [Box] = []
        for (i, (r1, n1)) in avg.enumerated() where n1 > groupThreshold {
            var nested = false
            for (j, (r2, n2)) in avg.enumerated() where j != i && n2 > groupThreshold {
                let dx = Int((Double(r2.width) * eps).rounded()), dy = Int((Double(r2.height) * eps).rounded())
                if r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.width <= r2.x + r2.width + dx
                    && r1.y + r1.height <= r2.y + r2.height + dy && (n2 > max(3, n1) || n1 < 3) { nested = true; break }
            }
            if !nested { out.append(r1) }
        }
        return out
    }
}

/// Collects stages and features from a cascade XML, in either of OpenCV's formats: the new one
/// (`<cascade>` with `<features>` and `internalNodes`) or the old one (`<size>`, `<trees>` with inline
/// `<feature>`, `threshold`, `left_val`, `right_val`; stumps only), as fer ships.
final class CascadeXMLReader: NSObject, XMLParserDelegate {
    var path: [String] = []
    var text = ""
    var width = 0, height = 0
    var stages: [HaarCascade.Stage] = []
    var features: [HaarCascade.Feature] = []
    var tilted = false
    var pendingNodes: [Float] = []
    var oldThreshold: Float = 0, oldLeft: Float = 0
    var unsupportedTree = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        path.append(name)
        text = ""
        if name == "_" {
            if path.dropLast().last == "stages" { stages.append(.init(threshold: 0, stumps: [])) }
            if path.dropLast().last == "features" { features.append(.init(rects: [])) }
        }
        if name == "feature" { features.append(.init(rects: [])) }  // old format: inline feature of a tree node
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    /// Float → Int that cannot trap on NaN, infinities or huge values (damaged files); -1 is refused later.
    func int(_ v: Float) -> Int { v.isFinite && abs(v) < 1e9 ? Int(v) : -1 }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let nums = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).compactMap { Float($0) }
        let parent = path.dropLast().last ?? ""
        switch name {
        case "width" where parent == "cascade": width = int(nums.first ?? 0)
        case "height" where parent == "cascade": height = int(nums.first ?? 0)
        case "stageThreshold" where !stages.isEmpty: stages[stages.count - 1].threshold = nums.first ?? 0
        case "internalNodes": pendingNodes = nums
        case "leafValues" where !stages.isEmpty && pendingNodes.count >= 4 && nums.count >= 2:
            stages[stages.count - 1].stumps.append(.init(feature: int(pendingNodes[2]), threshold: pendingNodes[3], left: nums[0], right: nums[1]))
        case "_" where parent == "rects" && !features.isEmpty && nums.count >= 5:
            features[features.count - 1].rects.append((int(nums[0]), int(nums[1]), int(nums[2]), int(nums[3]), nums[4]))
        case "tilted" where (nums.first ?? 0) != 0: tilted = true
        case "size" where nums.count == 2: width = int(nums[0]); height = int(nums[1])
        case "stage_threshold" where !stages.isEmpty: stages[stages.count - 1].threshold = nums.first ?? 0
        case "threshold": oldThreshold = nums.first ?? 0
        case "left_val": oldLeft = nums.first ?? 0
        case "right_val" where !stages.isEmpty && !features.isEmpty:
            stages[stages.count - 1].stumps.append(.init(feature: features.count - 1, threshold: oldThreshold, left: oldLeft, right: nums.first ?? 0))
        case "left_node", "right_node": unsupportedTree = true
        default: break
        }
        path.removeLast()
        text = ""
    }
}
