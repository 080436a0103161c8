import Foundation
@testable import Providers
import Testing

/// SigV4 against AWS's published vectors: the Signature Version 4 test suite (credentials
/// AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service "service") and the S3 API reference's
/// header-based examples (AKIAIOSFODNN7EXAMPLE, 2013-05-24).
@Suite struct AWSSignatureV4Tests {
    static let suite = AWSSignatureV4(credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE",
                                                                  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                      region: "us-east-1", service: "service")
    static let s3 = AWSSignatureV4(credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                               secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                                   region: "us-east-1", service: "s3")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)     // 2013-05-24T00:00:00Z
    static let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var signer: AWSSignatureV4
        var date: Date
        var method: String
        var url: String
        var headers: [(String, String)]
        var payload: String
        var authorization: String
        var description: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "get-vanilla", signer: suite, date: suiteDate, method: "GET", url: "https://example.amazonaws.com/", headers: [], payload: "",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(name: "get-vanilla-query-order-key-case", signer: suite, date: suiteDate, method: "GET",
               url: "https://example.amazonaws.com/?Param2=value2&Param1=value1", headers: [], payload: "",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(name: "post-vanilla", signer: suite, date: suiteDate, method: "POST", url: "https://example.amazonaws.com/", headers: [], payload: "",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        Vector(name: "S3 GET Object", signer: s3, date: s3Date, method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt",
               headers: [("Range", "bytes=0-9"), ("x-amz-content-sha256", empty)], payload: "",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        Vector(name: "S3 PUT Object", signer: s3, date: s3Date, method: "PUT", url: "https://examplebucket.s3.amazonaws.com/test%24file.text",
               headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                         ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")],
               payload: "Welcome to Amazon S3.",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        Vector(name: "S3 GET lifecycle", signer: s3, date: s3Date, method: "GET", url: "https://examplebucket.s3.amazonaws.com/?lifecycle",
               headers: [("x-amz-content-sha256", empty)], payload: "",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        Vector(name: "S3 list objects", signer: s3, date: s3Date, method: "GET", url: "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
               headers: [("x-amz-content-sha256", empty)], payload: "",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]

    @Test(arguments: vectors)
    func publishedVector(_ vector: Vector) throws {
        let added = try vector.signer.sign(method: vector.method, url: vector.url, headers: vector.headers,
                                          payload: Array(vector.payload.utf8), date: vector.date)
        #expect(added.first { $0.0 == "Authorization" }?.1 == vector.authorization)
        #expect(added.first { $0.0 == "X-Amz-Date" }?.1.hasPrefix(vector.name.hasPrefix("S3") ? "20130524T" : "20150830T") == true)
    }

    @Test func temporaryCredentialsSignTheirToken() throws {
        var signer = Self.suite
        signer.credentials.sessionToken = "AQoDYXdzEPT//////////wEXAMPLE"
        let added = try signer.sign(method: "GET", url: "https://example.amazonaws.com/", headers: [], payload: [], date: Self.suiteDate)
        #expect(added.contains { $0.0 == "X-Amz-Security-Token" && $0.1 == "AQoDYXdzEPT//////////wEXAMPLE" })
        #expect(added.first { $0.0 == "Authorization" }?.1.contains("SignedHeaders=host;x-amz-date;x-amz-security-token") == true)
    }

    @Test func credentialsComeFromTheEnvironmentThenTheProfile() throws {
        let env = try AWSCredentials.resolve(context: "t", credentialsFile: nil, profile: nil,
                                             environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "tok"])
        #expect(env.accessKeyID == "AKID" && env.secretAccessKey == "s3cr3t" && env.sessionToken == "tok")
        #expect(!"\(env)".contains("s3cr3t"))

        let file = FileManager.default.temporaryDirectory.path + "/aws-credentials-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n# comment\n[dns]\naws_access_key_id=DNSKEY\naws_secret_access_key=dnssecret\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        // A secret file: readable by its owner only (hardening item 3 refuses it otherwise).
        chmod(file, 0o600)
        let profile = try AWSCredentials.resolve(context: "t", credentialsFile: file, profile: "dns", environment: ["AWS_ACCESS_KEY_ID": "ignored"])
        #expect(profile.accessKeyID == "DNSKEY" && profile.secretAccessKey == "dnssecret" && profile.sessionToken == nil)
        let byEnv = try AWSCredentials.resolve(context: "t", credentialsFile: nil, profile: nil,
                                               environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "default"])
        #expect(byEnv.accessKeyID == "DEF")
        do {
            _ = try AWSCredentials.resolve(context: "[[provider]] 'aws'", credentialsFile: file, profile: "nope", environment: [:])
            Issue.record("a missing profile was accepted")
        } catch {
            #expect("\(error)".contains("[nope]") && !"\(error)".contains("secret"))
        }
    }
}
