// The hot loops live in EmovoxKernels, the one target built -Ounchecked; every module that imports EmovoxCore
// sees them (Threads, sgemm, WindowGeometry, FFT, …) as before the split.
@_exported import EmovoxKernels
