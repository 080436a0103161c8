import FuzzEntries

/// libFuzzer entry for the 'idna' target (`scripts/fuzz idna SECONDS`; built only with DNS01_FUZZ=1).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDNA(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzEntry.entry(named: "idna")?(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

/// SwiftPM's debug builds link an executable's `main` to `<module>_main`; with
/// -parse-as-library there is none, so it is this, handing over to libFuzzer's driver.
@_cdecl("fuzz_idna_main")
public func fuzzIDNAMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, count in fuzzIDNA(data, count) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
