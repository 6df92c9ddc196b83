import Foundation
import EmovoxUtilities

/// safetensors (the format of Hugging Face / PyTorch): u64 little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then raw little-endian data.
/// emovox writes F32 tensors plus I64 for BatchNorm's `num_batches_tracked`, which PyTorch's strict
/// `load_state_dict` expects as int64 (F16 on request: `TensorStorage.f16`); reading accepts F32/F64/F16/BF16/I64/I32
/// and converts to Float.
public enum Safetensors {
    /// Tensors whose name ends with one of these are stored as int64 (PyTorch buffers).
    public static let int64Suffixes = ["num_batches_tracked"]

    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:], storage: TensorStorage = .f32) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var blob = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let begin = blob.count
            if int64Suffixes.contains(where: name.hasSuffix) {
                let ints = t.data.map { Int64($0) }
                ints.withUnsafeBytes { blob.append(contentsOf: $0) }
                header[name] = ["dtype": "I64", "shape": t.shape, "data_offsets": [begin, blob.count]]
            } else {
                guard t.allFinite() else { throw EmovoxError("tensor '\(name)' holds NaN or infinity; refusing to save it") }
                switch storage {
                case .f32:
                    t.data.withUnsafeBytes { blob.append(contentsOf: $0) }
                case .f16:
                    // Float16(x) rounds to nearest, ties to even, as NumPy and PyTorch do; from ±65520 on it is ±inf.
                    if let big = t.data.first(where: { Float16($0).isInfinite }) {
                        throw EmovoxError("tensor '\(name)' holds \(big), outside the float16 range (±65504); keep it in float32")
                    }
                    t.data.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { blob.append(contentsOf: $0) }
                }
                header[name] = ["dtype": storage.dtype, "shape": t.shape, "data_offsets": [begin, blob.count]]
            }
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to a multiple of 8 so the data is aligned (as the reference writer does).
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + blob.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(blob)
        return out
    }

    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], storage: TensorStorage = .f32, to path: String) throws {
        try AtomicFile.write(try encode(tensors, metadata: metadata, storage: storage), to: path)
    }

    public static func read(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        return try decode(data, name: path)
    }

    /// The `__metadata__` of a file without reading its tensors (a header read; nil when it is not safetensors).
    public static func readMetadata(_ path: String) -> [String: String]? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        guard let lengthBytes = try? h.read(upToCount: 8), lengthBytes.count == 8 else { return nil }
        let n = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n < 100_000_000, let header = try? h.read(upToCount: Int(n)), header.count == Int(n),
              let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else { return nil }
        return (json["__metadata__"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
    }

    public static func decode(_ data: Data, name: String = "<safetensors>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard data.count >= 8 else { throw EmovoxError("truncated safetensors file (\(data.count) bytes, no header length)", file: name) }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(data.count - 8) else {
            throw EmovoxError("header length \(n) exceeds the file size \(data.count): truncated or not a safetensors file", file: name)
        }
        let headerBytes = data.subdata(in: data.startIndex + 8 ..< data.startIndex + 8 + Int(n))
        guard let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw EmovoxError("the header is not a JSON object", file: name)
        }
        let dataStart = 8 + Int(n), dataCount = data.count - dataStart
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                metadata = (value as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2 else {
                throw EmovoxError("tensor '\(key)': malformed header entry", file: name)
            }
            let width: Int
            switch dtype {
            case "F32", "I32": width = 4
            case "F64", "I64": width = 8
            case "F16", "BF16": width = 2
            default: throw EmovoxError("tensor '\(key)': unsupported dtype \(dtype) (F32, F64, F16, BF16, I64, I32 are read)", file: name)
            }
            guard shape.count == (entry["shape"] as? [Any])?.count, let count = Tensor.elementCount(shape) else {
                throw EmovoxError("tensor '\(key)': shape \(entry["shape"] ?? "?") is not a list of non-negative sizes", file: name)
            }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataCount else {
                throw EmovoxError("tensor '\(key)': data offsets \(offsets) fall outside the \(dataCount) data bytes (truncated file?)", file: name)
            }
            guard count <= dataCount, offsets[1] - offsets[0] == count * width else {
                throw EmovoxError("tensor '\(key)': shape \(shape) × \(dtype) needs \(count * width) bytes, offsets give \(offsets[1] - offsets[0])", file: name)
            }
            ranges.append((offsets[0], offsets[1], key))
            let start = data.startIndex + dataStart + offsets[0]
            let raw = data.subdata(in: start ..< start + count * width)
            let values: [Float] = raw.withUnsafeBytes { buf in
                switch dtype {
                case "F32": return Array(buf.bindMemory(to: Float.self))
                case "F64": return buf.bindMemory(to: Double.self).map { Float($0) }
                case "I64": return buf.bindMemory(to: Int64.self).map { Float($0) }
                case "I32": return buf.bindMemory(to: Int32.self).map { Float($0) }
                case "BF16": return buf.bindMemory(to: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
                default: return buf.bindMemory(to: UInt16.self).map { Float(Float16(bitPattern: $0)) }
                }
            }
            tensors[key] = Tensor(shape: shape, data: values)
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw EmovoxError("tensors '\(a.2)' and '\(b.2)' overlap in the data section", file: name)
        }
        return (tensors, metadata)
    }
}

/// How floating-point tensors are stored: float32, or float16 for half the size (a shipped model; 11 significant bits,
/// so a weight moves by at most 2⁻¹¹ of itself, and values beyond ±65504 are refused).
public enum TensorStorage: String, Sendable, CaseIterable {
    case f32, f16
    var dtype: String { self == .f32 ? "F32" : "F16" }
}
