import Foundation
import CHDF5
import EmovoxCore
import EmovoxUtilities

/// Reads a Keras 2 `.hdf5` model with libhdf5: the `model_config` JSON attribute (the graph) and the
/// `model_weights/<layer>/<weight name>` datasets listed by each layer's `weight_names` attribute.
public struct KerasModelFile {
    public let path: String
    public let modelConfig: [String: Any]
    public let kerasVersion: String?
    /// Layer name → weights by short name ("kernel", "gamma", "depthwise_kernel", …), Keras layouts.
    public let weights: [String: [String: Tensor]]

    public static func load(_ path: String) throws -> KerasModelFile {
        guard FileManager.default.fileExists(atPath: path) else { throw EmovoxError("no such file", file: path) }
        emovox_H5_silence_errors()
        guard H5Fis_hdf5(path) > 0 else { throw EmovoxError("not an HDF5 file", file: path) }
        let file = H5Fopen(path, emovox_H5F_ACC_RDONLY(), emovox_H5P_DEFAULT())
        guard file >= 0 else { throw EmovoxError("cannot open the HDF5 file", file: path) }
        defer { H5Fclose(file) }
        guard let configText = try readStringAttribute(file, "model_config", path: path).first else {
            throw EmovoxError("no readable 'model_config' attribute (is this a Keras model saved with model.save?)", file: path)
        }
        let config = try parseConfig(Data(configText.utf8), path: path)
        let version = try? readStringAttribute(file, "keras_version", path: path).first
        let group = H5Gopen2(file, "model_weights", emovox_H5P_DEFAULT())
        guard group >= 0 else { throw EmovoxError("no 'model_weights' group", file: path) }
        defer { H5Gclose(group) }
        var weights: [String: [String: Tensor]] = [:]
        for layer in try readStringAttribute(group, "layer_names", path: path) {
            let lg = H5Gopen2(group, layer, emovox_H5P_DEFAULT())
            guard lg >= 0 else { throw EmovoxError("layer '\(layer)' listed in layer_names has no weight group", file: path) }
            defer { H5Gclose(lg) }
            for name in try readStringAttribute(lg, "weight_names", path: path) {
                // "batch_normalization_1_1/gamma:0" → "gamma"
                let short = String(name.split(separator: "/").last ?? Substring(name)).replacingOccurrences(of: ":0", with: "")
                weights[layer, default: [:]][short] = try readDataset(lg, name, path: path)
            }
        }
        return KerasModelFile(path: path, modelConfig: config, kerasVersion: version, weights: weights)
    }

    /// The `model_config` JSON (the graph): an object, or an error naming the file.
    public static func parseConfig(_ json: Data, path: String) throws -> [String: Any] {
        guard let config = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw EmovoxError("the 'model_config' attribute is not a JSON object (is this a Keras model saved with model.save?)", file: path)
        }
        return config
    }

    /// Layer descriptions in graph order (functional `Model` or `Sequential`), with their weights attached.
    public func layers() throws -> [KerasLayerDescription] {
        guard let cfg = modelConfig["config"] else { throw EmovoxError("model_config has no 'config'", file: path) }
        let className = modelConfig["class_name"] as? String ?? ""
        let list: [[String: Any]]
        if let d = cfg as? [String: Any], let l = d["layers"] as? [[String: Any]] { list = l }
        else if let l = cfg as? [[String: Any]] { list = l }  // old Sequential: config is the layer list
        else { throw EmovoxError("model_config has no layer list", file: path) }
        var out: [KerasLayerDescription] = []
        for (i, l) in list.enumerated() {
            let lc = l["config"] as? [String: Any] ?? [:]
            let name = l["name"] as? String ?? lc["name"] as? String ?? "layer_\(i)"
            var inputs: [String] = []
            if let nodes = l["inbound_nodes"] as? [Any], let first = nodes.first as? [Any] {
                inputs = first.compactMap { ($0 as? [Any])?.first as? String }
            } else if className == "Sequential" || (l["inbound_nodes"] == nil && i > 0) {
                inputs = [out.last?.name].compactMap { $0 }
            }
            out.append(KerasLayerDescription(name: name, className: l["class_name"] as? String ?? "", inputs: inputs,
                                             config: lc, weights: weights[name] ?? [:]))
        }
        if className == "Sequential", out.first?.className != "InputLayer", let shape = out.first?.config["batch_input_shape"] {
            out.insert(KerasLayerDescription(name: "input", className: "InputLayer", inputs: [], config: ["batch_input_shape": shape]), at: 0)
            out[1].inputs = ["input"]
        }
        return out
    }

    /// String attribute values: variable-length or fixed-length strings, scalar or 1-D (empty numeric arrays → []).
    static func readStringAttribute(_ obj: hid_t, _ name: String, path: String) throws -> [String] {
        guard H5Aexists(obj, name) > 0 else { throw EmovoxError("missing attribute '\(name)'", file: path) }
        let attr = H5Aopen(obj, name, emovox_H5P_DEFAULT())
        guard attr >= 0 else { throw EmovoxError("cannot open attribute '\(name)'", file: path) }
        defer { H5Aclose(attr) }
        let ftype = H5Aget_type(attr), space = H5Aget_space(attr)
        defer { H5Tclose(ftype); H5Sclose(space) }
        let n = Int(H5Sget_simple_extent_npoints(space))
        guard H5Tget_class(ftype) == H5T_STRING else { return [] }  // Keras writes empty weight_names as float64[0]
        guard n > 0 else { return [] }
        if H5Tis_variable_str(ftype) > 0 {
            let mtype = H5Tcopy(emovox_H5T_C_S1())
            H5Tset_size(mtype, emovox_H5T_VARIABLE())
            // h5py writes UTF-8, Keras 2.0 ASCII: HDF5 refuses to convert between them, so match the file's set.
            H5Tset_cset(mtype, H5Tget_cset(ftype))
            defer { H5Tclose(mtype) }
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            guard H5Aread(attr, mtype, &ptrs) >= 0 else { throw EmovoxError("cannot read attribute '\(name)'", file: path) }
            defer { for p in ptrs { H5free_memory(p) } }
            return ptrs.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(ftype)
        var buf = [CChar](repeating: 0, count: n * size + 1)
        guard H5Aread(attr, ftype, &buf) >= 0 else { throw EmovoxError("cannot read attribute '\(name)'", file: path) }
        return (0..<n).map { i in
            let bytes = buf[(i * size)..<((i + 1) * size)].prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    static func readDataset(_ group: hid_t, _ name: String, path: String) throws -> Tensor {
        let ds = H5Dopen2(group, name, emovox_H5P_DEFAULT())
        guard ds >= 0 else { throw EmovoxError("missing weight dataset '\(name)'", file: path) }
        defer { H5Dclose(ds) }
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, nil)
        let shape = rank == 0 ? [] : dims.prefix(rank).map { Int($0) }
        let dtype = H5Dget_type(ds)
        defer { H5Tclose(dtype) }
        guard H5Tget_class(dtype) == H5T_FLOAT else { throw EmovoxError("weight '\(name)' is not floating point", file: path) }
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        guard H5Dread(ds, emovox_H5T_NATIVE_FLOAT(), emovox_H5S_ALL(), emovox_H5S_ALL(), emovox_H5P_DEFAULT(), &values) >= 0 else {
            throw EmovoxError("cannot read weight '\(name)'", file: path)
        }
        return Tensor(shape: shape, data: values)
    }
}

extension FaceTeacher {
    /// A Keras `.hdf5` face-expression model. `labels` default to FER2013's order for 7-class models.
    public static func load(hdf5 path: String, labels: [String]? = nil) throws -> FaceTeacher {
        let file = try KerasModelFile.load(path)
        let network = try KerasGraphNetwork(layers: try file.layers(), source: path)
        let probe = network.logits(Tensor(zeros: [1] + network.inputShape))
        let names = labels ?? (probe.shape[1] == 7 ? fer2013Labels : (0..<probe.shape[1]).map { "class\($0)" })
        return try FaceTeacher(network: network, labels: names, name: (path as NSString).lastPathComponent)
    }
}
