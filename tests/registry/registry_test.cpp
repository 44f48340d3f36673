// corral image pull / push / login / logout against Debian's docker-registry
// (the CNCF distribution registry) started here on loopback: one with TLS
// from a test CA and htpasswd auth, one plain HTTP (insecure); and a small
// hostile registry in this process (corrupted blob, wrong size, a connection
// cut mid-layer, Bearer tokens). Every registry has its own port, config and
// storage in a temp dir and is ended by its PID.
#include "unit/image_testutil.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>

using namespace image_test;

namespace {

const std::string kCorral = CORRAL_BIN;

std::string q(const std::string &s) { // single-quoted for bash
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

bool port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// docker-registry on 127.0.0.1:PORT, configured in `dir`.
class Registry {
public:
    Registry(const std::string &dir, bool tls) : dir_(dir) {
        port = free_port();
        host = "127.0.0.1:" + std::to_string(port);
        sh("mkdir -p " + q(dir + "/data"));
        std::string http = "http:\n  addr: " + host + "\n";
        std::string auth;
        if (tls) {
            // A CA, a server certificate for 127.0.0.1 signed by it, the CA
            // where corral's --cert-dir reads it.
            auto r = sh("cd " + q(dir) +
                        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
                        "-out ca.crt -days 2 -subj /CN=corral-test-ca"
                        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
                        "-subj /CN=127.0.0.1"
                        " && printf 'subjectAltName=IP:127.0.0.1\\n' > ext"
                        " && openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext"
                        " && mkdir -p certs && cp ca.crt certs/ca.crt"
                        " && htpasswd -Bbn tester s3cret > htpasswd");
            EXPECT_EQ(r.status, 0) << r.out;
            http += "  tls:\n    certificate: " + dir + "/srv.crt\n    key: " + dir + "/srv.key\n";
            auth = "auth:\n  htpasswd:\n    realm: corral-test\n    path: " + dir + "/htpasswd\n";
        }
        write_all(dir + "/config.yml", "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                                       "storage:\n  filesystem:\n    rootdirectory: " +
                                           dir + "/data\n  delete:\n    enabled: true\n" + http + auth);
        pid_ = ::fork();
        if (pid_ == 0) {
            int fd = ::open((dir + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::execlp("docker-registry", "docker-registry", "serve", (dir + "/config.yml").c_str(), nullptr);
            ::_exit(127);
        }
        for (int i = 0; i < 200 && !port_open(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        EXPECT_TRUE(port_open(port)) << read_all(dir + "/registry.log");
    }
    ~Registry() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int st;
            ::waitpid(pid_, &st, 0);
        }
    }
    std::string log() const { return read_all(dir_ + "/registry.log"); }
    int port = 0;
    std::string host;

private:
    std::string dir_;
    pid_t pid_ = -1;
};

// A two-platform image index tagged `multi` in `layout`: amd64 and arm64
// images sharing their base layer, each with a layer of its own (one gzip,
// one zstd) naming its platform; plus `big`, one image with a 300 kB layer
// of incompressible data (for chunked uploads and cut connections).
struct MultiLayout {
    json index_desc;
    std::string amd64_digest, arm64_digest;
};

json image_into(const std::string &layout, const std::vector<Layer> &layers, const std::string &arch) {
    json diff_ids = json::array(), descs = json::array();
    for (auto &l : layers) {
        diff_ids.push_back(gunzip_tar_digest(l.tar));
        Blob b = put_blob(layout, l.blob);
        descs.push_back({{"mediaType", l.media_type}, {"digest", b.digest}, {"size", b.size}});
    }
    json config = {{"architecture", arch}, {"os", "linux"}, {"config", {{"Cmd", {"/bin/sh"}}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    Blob c = put_blob(layout, config.dump());
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", c.digest}, {"size", c.size}}},
                     {"layers", descs}};
    Blob m = put_blob(layout, manifest.dump());
    return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", m.digest}, {"size", m.size},
            {"platform", {{"os", "linux"}, {"architecture", arch}}}};
}

std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto &c : s) c = static_cast<char>(rng());
    return s;
}

MultiLayout make_layout(const std::string &layout) {
    sh("mkdir -p " + q(layout + "/blobs/sha256"));
    write_all(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    Layer base = gz_layer({dir("etc"), file("etc/os-release", "ID=corral-test\n")});
    Layer amd = gz_layer({file("etc/arch", "amd64\n")});
    std::vector<Entry> arm_entries = {file("etc/arch", "arm64\n")};
    Layer arm{make_tar(arm_entries, "zstd"), make_tar(arm_entries, ""), "application/vnd.oci.image.layer.v1.tar+zstd"};
    MultiLayout out;
    json a = image_into(layout, {base, amd}, "amd64");
    json b = image_into(layout, {base, arm}, "arm64");
    out.amd64_digest = a["digest"];
    out.arm64_digest = b["digest"];
    json idx = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", {a, b}}};
    Blob i = put_blob(layout, idx.dump());
    out.index_desc = {{"mediaType", "application/vnd.oci.image.index.v1+json"}, {"digest", i.digest}, {"size", i.size},
                      {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}};
    Layer big = gz_layer({file("data/blob", random_bytes(300 << 10, 7))});
    json bigd = image_into(layout, {base, big}, "amd64");
    bigd.erase("platform");
    bigd["annotations"] = {{"org.opencontainers.image.ref.name", "big"}};
    write_all(layout + "/index.json", json{{"schemaVersion", 2}, {"manifests", {out.index_desc, bigd}}}.dump());
    return out;
}

class RegistryTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (the layer store writes overlay whiteouts)";
        if (!have("docker-registry")) GTEST_SKIP() << "docker-registry is not installed (scripts/deps test)";
        if (!have("htpasswd") || !have("openssl")) GTEST_SKIP() << "htpasswd or openssl missing (scripts/deps test)";
        layout = tmp / "layout";
        store = tmp / "store";
        authfile = tmp / "auth.json";
        ml = make_layout(layout);
    }
    // corral image ARGS, with this test's store and auth file; stderr too.
    Sh corral(const std::string &args, const std::string &env = "") {
        return sh(env + " REGISTRY_AUTH_FILE=" + q(authfile) + " CONTAINERS_REGISTRIES_CONF=" + q(tmp / "registries.conf") +
                  " " + q(kCorral) + " " + args);
    }
    std::string image(const std::string &args) { return "image " + args + " --store " + q(store); }
    std::vector<std::string> stored_layers() {
        auto r = sh("ls " + q(store + "/layers") + " 2>/dev/null || true");
        std::vector<std::string> out;
        std::istringstream in(r.out);
        for (std::string l; std::getline(in, l);)
            if (!l.empty()) out.push_back(l);
        return out;
    }
    json ls() {
        auto r = corral(image("ls --format json"));
        EXPECT_EQ(r.status, 0) << r.out;
        return json::parse(r.out, nullptr, false);
    }

    TempDir tmp;
    std::string layout, store, authfile;
    MultiLayout ml;
};

// --- TLS + htpasswd ------------------------------------------------------------------

TEST_F(RegistryTest, TlsAuthPushThenPullByTagAndDigestWithPlatform) {
    Registry reg(tmp / "tls", true);
    std::string certs = "--cert-dir " + q(tmp / "tls/certs");
    auto r = corral("image login " + reg.host + " -u tester --password-stdin " + certs, "echo s3cret |");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(read_all(authfile).find(reg.host), std::string::npos);

    std::string ref = reg.host + "/corral/multi:v1";
    r = corral(image("push " + certs + " " + q(layout + ":multi") + " " + ref));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(ml.index_desc["digest"].get<std::string>()), std::string::npos) << r.out;

    // By tag, for arm64: the arm64 image, its zstd layer unpacked.
    r = corral(image("pull -q --platform linux/arm64 " + certs + " " + ref));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(ml.arm64_digest), std::string::npos) << r.out;
    json images = ls();
    ASSERT_EQ(images.size(), 1u) << images.dump();
    EXPECT_EQ(images[0]["names"][0], ref);
    EXPECT_EQ(images[0]["platform"], "linux/arm64");
    bool found_arm = false;
    for (auto &l : stored_layers()) found_arm |= read_all(store + "/layers/" + l + "/fs/etc/arch") == "arm64\n";
    EXPECT_TRUE(found_arm);

    // By the index's digest, for amd64: only the amd64 layer is new.
    std::string by_digest = reg.host + "/corral/multi@" + ml.index_desc["digest"].get<std::string>();
    r = corral("--debug " + image("pull -q --platform linux/amd64 " + certs + " " + by_digest));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(ml.amd64_digest), std::string::npos) << r.out;
    EXPECT_EQ(stored_layers().size(), 3u);
    size_t layer_gets = 0;
    for (size_t at = r.out.find("/blobs/sha256:"); at != std::string::npos; at = r.out.find("/blobs/sha256:", at + 1))
        ++layer_gets;
    EXPECT_EQ(layer_gets, 2u) << "the config and the one new layer: " << r.out;

    // Again: nothing but manifests and config fetched, no layer.
    r = corral("--debug " + image("pull -q --platform linux/amd64 " + certs + " " + by_digest));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.find("unpack layer"), std::string::npos) << r.out;

    // And it unpacks into a bundle from the store by its name.
    r = corral(image("unpack -q " + q(by_digest) + " " + q(tmp / "bundle")));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(read_all(tmp / "bundle/rootfs/etc/arch"), "amd64\n");
    corral(image("rm-bundle " + q(tmp / "bundle")));

    // Without the CA the certificate is refused.
    r = corral(image("pull -q " + ref));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("certificate"), std::string::npos) << r.out;

    // Logout: the credentials are gone, and pulls are refused.
    r = corral("image logout " + reg.host);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(read_all(authfile).find(reg.host), std::string::npos);
    r = corral(image("pull -q " + certs + " " + ref));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("no credentials"), std::string::npos) << r.out;
    r = corral("image logout " + reg.host);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("not logged into " + reg.host), std::string::npos) << r.out;
}

TEST_F(RegistryTest, WrongPasswordIsRefusedAndNothingStored) {
    Registry reg(tmp / "tls", true);
    std::string certs = "--cert-dir " + q(tmp / "tls/certs");
    auto r = corral("image login " + reg.host + " -u tester -p wrong " + certs);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("wrong username or password"), std::string::npos) << r.out;
    EXPECT_FALSE(exists(authfile));
    r = corral(image("pull -q --creds tester:wrong " + certs + " " + reg.host + "/corral/multi:v1"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("wrong username or password"), std::string::npos) << r.out;
    EXPECT_TRUE(stored_layers().empty());
    EXPECT_TRUE(ls().empty());
}

TEST_F(RegistryTest, UnknownTagNamesTheReference) {
    Registry reg(tmp / "tls", true);
    std::string certs = "--cert-dir " + q(tmp / "tls/certs");
    auto r = corral(image("push -q --creds tester:s3cret " + certs + " " + q(layout + ":multi") + " " + reg.host + "/corral/multi:v1"));
    ASSERT_EQ(r.status, 0) << r.out;
    r = corral(image("pull -q --creds tester:s3cret " + certs + " " + reg.host + "/corral/multi:nope"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find(reg.host + "/corral/multi:nope"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("not found"), std::string::npos) << r.out;
    EXPECT_TRUE(stored_layers().empty());
    EXPECT_TRUE(ls().empty());
}

// --- plain HTTP, configured insecure --------------------------------------------------

TEST_F(RegistryTest, InsecureHttpRegistryOnlyWhenConfigured) {
    Registry reg(tmp / "http", false);
    std::string ref = reg.host + "/corral/big:1";
    auto r = corral(image("push -q " + q(layout + ":big") + " " + ref));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("insecure"), std::string::npos) << r.out;

    // --tls-verify=false: chunked upload (64k chunks of the 300 kB layer).
    r = corral("--debug " + image("push --tls-verify=false --chunk-size 64k " + q(layout + ":big") + " " + ref));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("chunked upload"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("monolithic upload"), std::string::npos) << r.out;

    // The same image into another repository: blobs mounted, not uploaded.
    r = corral("--debug " + image("push --tls-verify=false --mount-from corral/big " + q(layout + ":big") + " " +
                                  reg.host + "/other/big:1"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("mounted from corral/big"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("upload of"), std::string::npos) << r.out;

    // registries.conf: insecure = true.
    write_all(tmp / "registries.conf", "[[registry]]\nlocation = \"" + reg.host + "\"\ninsecure = true\n");
    r = corral(image("pull -q " + reg.host + "/other/big:1"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(read_all(store + "/layers/" + stored_layers()[0] + "/fs/etc/os-release") +
                  read_all(store + "/layers/" + stored_layers()[1] + "/fs/etc/os-release"),
              "");
}

TEST_F(RegistryTest, ProgressPerLayerOnATerminalOnly) {
    if (!have("script")) GTEST_SKIP() << "script (util-linux) is not installed";
    Registry reg(tmp / "http", false);
    std::string ref = reg.host + "/corral/multi:v1";
    auto r = corral(image("push -q --tls-verify=false " + q(layout + ":multi") + " " + ref));
    ASSERT_EQ(r.status, 0) << r.out;
    // Through a pipe: quiet.
    r = corral(image("pull --tls-verify=false " + ref) + " 2>&1 | cat");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.find("Copying blob"), std::string::npos) << r.out;
    // On a terminal: a line per new layer (the base is stored now).
    corral(image("rm " + ref));
    corral(image("gc"));
    r = sh("REGISTRY_AUTH_FILE=" + q(authfile) + " CONTAINERS_REGISTRIES_CONF=" + q(tmp / "registries.conf") +
           " script -qec " + q(q(kCorral) + " " + image("pull --tls-verify=false " + ref)) + " /dev/null");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("Copying blob"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" done "), std::string::npos) << r.out;
}

TEST_F(RegistryTest, MirrorServesWhenTheRegistryIsUnreachable) {
    Registry reg(tmp / "http", false);
    auto r = corral(image("push -q --tls-verify=false " + q(layout + ":multi") + " " + reg.host + "/corral/multi:v1"));
    ASSERT_EQ(r.status, 0) << r.out;
    // registry.invalid:1 cannot be reached; its mirror is the local registry.
    write_all(tmp / "registries.conf", "[[registry]]\nlocation = \"127.0.0.1:1\"\n[[registry.mirror]]\nlocation = \"" +
                                           reg.host + "\"\ninsecure = true\n");
    r = corral("--debug " + image("pull -q 127.0.0.1:1/corral/multi:v1"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("using mirror " + reg.host), std::string::npos) << r.out;
    EXPECT_EQ(ls()[0]["names"][0], "127.0.0.1:1/corral/multi:v1");
}

// --- a hostile registry ------------------------------------------------------------------

// An HTTP registry serving the `big` image of a layout, with faults. One
// request per connection (Connection: close).
class HostileRegistry {
public:
    enum class Fault { none, corrupt, wrong_size, cut_once };
    HostileRegistry(const std::string &layout, Fault fault, bool bearer) : layout_(layout), fault_(fault), bearer_(bearer) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr *>(&a), &len);
        port = ntohs(a.sin_port);
        host = "127.0.0.1:" + std::to_string(port);
        ::listen(fd_, 16);
        json index = json::parse(read_all(layout + "/index.json"));
        for (auto &d : index["manifests"])
            if (d["annotations"]["org.opencontainers.image.ref.name"] == "big") manifest_ = d["digest"];
        json m = json::parse(blob(manifest_));
        layer_ = m["layers"][1]["digest"];
        thread_ = std::thread([this] { serve(); });
    }
    ~HostileRegistry() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    std::string blob(const std::string &digest) { return read_all(layout_ + "/blobs/sha256/" + digest.substr(7)); }

    int port = 0;
    std::string host;
    std::atomic<int> range_requests{0}, token_requests{0};

private:
    void serve() {
        while (!stop_) {
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            handle(c);
            ::close(c);
        }
    }
    static void send_all(int c, const std::string &s) {
        size_t off = 0;
        while (off < s.size()) {
            ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return;
            off += static_cast<size_t>(n);
        }
    }
    void reply(int c, int status, const std::string &body, std::string headers = "") {
        headers += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        send_all(c, "HTTP/1.1 " + std::to_string(status) + " X\r\n" + headers + "Connection: close\r\n\r\n" + body);
    }
    void handle(int c) {
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0 || req.size() > 65536) return;
            req.append(buf, static_cast<size_t>(n));
            if (req[0] == 0x16) return; // a TLS ClientHello (insecure: https first): not spoken here
        }
        if (req.rfind("GET ", 0) != 0 && req.rfind("HEAD ", 0) != 0) return reply(c, 405, "");
        std::string path = req.substr(req.find(' ') + 1);
        path = path.substr(0, path.find(' '));
        std::string lower_req = req;
        for (auto &ch : lower_req) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (path.rfind("/token", 0) == 0) {
            ++token_requests;
            if (lower_req.find("authorization: basic " + to_lower(corral_b64("tester:s3cret"))) == std::string::npos)
                return reply(c, 401, "{}");
            return reply(c, 200, R"({"token":"t0ken"})", "Content-Type: application/json\r\n");
        }
        if (bearer_ && req.find("Authorization: Bearer t0ken") == std::string::npos)
            return reply(c, 401, R"({"errors":[{"code":"UNAUTHORIZED"}]})",
                         "WWW-Authenticate: Bearer realm=\"http://" + host +
                             "/token\",service=\"hostile\",scope=\"repository:x/big:pull\"\r\n");
        if (path == "/v2/") return reply(c, 200, "{}");
        if (path == "/v2/x/big/manifests/1" || path == "/v2/x/big/manifests/" + manifest_)
            return reply(c, 200, blob(manifest_), "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n");
        const std::string prefix = "/v2/x/big/blobs/";
        if (path.rfind(prefix, 0) != 0) return reply(c, 404, R"({"errors":[{"code":"NAME_UNKNOWN"}]})");
        std::string digest = path.substr(prefix.size());
        std::string data = blob(digest);
        if (data.empty()) return reply(c, 404, R"({"errors":[{"code":"BLOB_UNKNOWN"}]})");
        if (digest != layer_) return reply(c, 200, data);
        if (fault_ == Fault::corrupt) data[data.size() / 2] ^= 0x55;
        if (fault_ == Fault::wrong_size) data += "0123456789";
        if (fault_ == Fault::cut_once) {
            auto at = lower_req.find("range: bytes=");
            if (at != std::string::npos) {
                ++range_requests;
                size_t from = std::stoull(lower_req.substr(at + 13));
                std::string part = data.substr(from);
                return reply(c, 206, part,
                             "Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(data.size() - 1) + "/" +
                                 std::to_string(data.size()) + "\r\n");
            }
            // The full length promised, a third sent, the connection closed.
            send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(data.size()) + "\r\n\r\n" +
                            data.substr(0, data.size() / 3));
            return;
        }
        reply(c, 200, data);
    }
    static std::string to_lower(std::string s) {
        for (auto &ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
    }
    static std::string corral_b64(const std::string &in) {
        static const char *k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string out;
        size_t i = 0;
        for (; i + 2 < in.size(); i += 3) {
            uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
            out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
        }
        if (i + 1 == in.size()) {
            uint32_t v = uint8_t(in[i]) << 16;
            out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
        } else if (i + 2 == in.size()) {
            uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
            out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
        }
        return out;
    }

    std::string layout_;
    Fault fault_;
    bool bearer_;
    int fd_ = -1;
    std::string manifest_, layer_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

TEST_F(RegistryTest, CorruptedBlobIsRefusedAndNothingStored) {
    HostileRegistry hostile(layout, HostileRegistry::Fault::corrupt, false);
    auto r = corral(image("pull -q --tls-verify=false " + hostile.host + "/x/big:1"));
    EXPECT_NE(r.status, 0);
    EXPECT_TRUE(r.out.find("digest mismatch") != std::string::npos || r.out.find("gzip") != std::string::npos ||
                r.out.find("corrupt") != std::string::npos)
        << r.out;
    EXPECT_TRUE(stored_layers().empty()) << r.out;
    EXPECT_TRUE(ls().empty());
    EXPECT_EQ(sh("ls -A " + q(store + "/tmp")).out, "");
}

TEST_F(RegistryTest, WrongSizeIsRefusedAndNothingStored) {
    HostileRegistry hostile(layout, HostileRegistry::Fault::wrong_size, false);
    auto r = corral(image("pull -q --tls-verify=false " + hostile.host + "/x/big:1"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("size mismatch"), std::string::npos) << r.out;
    EXPECT_TRUE(stored_layers().empty()) << r.out;
    EXPECT_TRUE(ls().empty());
    EXPECT_EQ(sh("ls -A " + q(store + "/tmp")).out, "");
}

TEST_F(RegistryTest, ConnectionCutMidLayerIsResumedAndVerified) {
    HostileRegistry hostile(layout, HostileRegistry::Fault::cut_once, false);
    auto r = corral("--debug " + image("pull -q --tls-verify=false " + hostile.host + "/x/big:1"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_GE(hostile.range_requests.load(), 1) << r.out;
    EXPECT_NE(r.out.find("resuming"), std::string::npos) << r.out;
    bool found = false;
    for (auto &l : stored_layers()) found |= read_all(store + "/layers/" + l + "/fs/data/blob") == random_bytes(300 << 10, 7);
    EXPECT_TRUE(found);
}

TEST_F(RegistryTest, BearerTokenFromTheChallenge) {
    HostileRegistry hostile(layout, HostileRegistry::Fault::none, true);
    auto r = corral(image("pull -q --tls-verify=false " + hostile.host + "/x/big:1"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("token service refused"), std::string::npos) << r.out; // no credentials
    r = corral(image("pull -q --tls-verify=false --creds tester:s3cret " + hostile.host + "/x/big:1"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_GE(hostile.token_requests.load(), 2);
    EXPECT_EQ(stored_layers().size(), 2u);
}

} // namespace
