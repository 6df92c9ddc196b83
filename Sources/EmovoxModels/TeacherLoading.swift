import Foundation
import EmovoxCore
import EmovoxUtilities

extension FaceTeacher {
    /// Loads the flat-blob form of a Keras model: a JSON manifest (graph + tensor offsets, as in
    /// shared/teacher/mini_xception_fer2013.json) beside a little-endian float32 file.
    public static func loadManifest(json jsonPath: String, blob blobPath: String) throws -> FaceTeacher {
        guard let jd = FileManager.default.contents(atPath: jsonPath) else { throw EmovoxError("cannot read", file: jsonPath) }
        guard let bd = FileManager.default.contents(atPath: blobPath) else { throw EmovoxError("cannot read", file: blobPath) }
        guard let root = (try? JSONSerialization.jsonObject(with: jd)) as? [String: Any],
              let graph = root["graph"] as? [[String: Any]], let tensors = root["tensors"] as? [[String: Any]] else {
            throw EmovoxError("not a teacher manifest (needs 'graph' and 'tensors')", file: jsonPath)
        }
        let floats: [Float] = bd.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var weights: [String: [String: Tensor]] = [:]
        for t in tensors {
            guard let layer = t["layer"] as? String, let name = t["name"] as? String,
                  let shape = (t["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let off = (t["offset_floats"] as? NSNumber)?.intValue else {
                throw EmovoxError("malformed tensor entry \(t)", file: jsonPath)
            }
            guard shape.count == (t["shape"] as? [Any])?.count, let n = Tensor.elementCount(shape), off >= 0 else {
                throw EmovoxError("tensor \(layer)/\(name): shape \(t["shape"] ?? "?") or offset \(off) is not a valid size", file: jsonPath)
            }
            guard n <= floats.count - off else {
                throw EmovoxError("tensor \(layer)/\(name) needs \(n) floats from \(off) but the blob has \(floats.count) (truncated?)", file: blobPath)
            }
            weights[layer, default: [:]][name] = Tensor(shape: shape, data: Array(floats[off..<(off + n)]))
        }
        let layers = graph.map { g in
            KerasLayerDescription(name: g["name"] as? String ?? "", className: g["class"] as? String ?? "",
                                  inputs: g["inputs"] as? [String] ?? [], config: g["config"] as? [String: Any] ?? [:],
                                  weights: weights[g["name"] as? String ?? ""] ?? [:])
        }
        let labels = root["labels"] as? [String] ?? fer2013Labels
        return try FaceTeacher(network: KerasGraphNetwork(layers: layers, source: jsonPath), labels: labels,
                               name: (jsonPath as NSString).lastPathComponent)
    }
}
