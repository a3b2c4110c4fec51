// Certificate credentials end to end: graphmirror gets its token from graphsim with a
// client assertion signed by the configured key and syncs; a certificate graphsim does not
// know is refused with the identity platform's error; a key file others can read is refused
// before anything is sent.

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "engine/rich/keygen.h"
#include "tests/integration/cli_run.h"
#include "tests/support/temp_dir.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::test {
namespace {

// graphsim on the real clock, as the identity platform is: the command signs its
// assertions with the system clock.
struct CertificateSetup {
  explicit CertificateSetup(const std::string& registered_pem)
      : sim(Options(registered_pem), nullptr), server(&sim) {
    REQUIRE(server.Start("127.0.0.1", 0).ok());
  }
  static graphsim::Options Options(const std::string& registered_pem) {
    graphsim::Options o;
    o.users = 1;
    o.messages = 30;
    o.events = 5;
    o.contacts = 5;
    o.client_secret = "a-secret-graphmirror-is-not-told";
    o.client_certificate_pem = registered_pem;
    return o;
  }

  // A config with [graph] certificate and private_key (the pair keygen --app writes).
  std::string WriteConfig(const std::string& cert, const std::string& key) {
    std::string text = "database = \"m.db\"\n[graph]\nbase_url = \"" + server.base_url() +
                       "/v1.0\"\ntoken_url = \"" + server.base_url() +
                       "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\ncertificate = \"" +
                       cert + "\"\nprivate_key = \"" + key + "\"\n";
    for (const std::string& u : sim.UserIds()) text += "[[mailbox]]\nuser = \"" + u + "\"\n";
    return WriteFile(dir, "g.toml", text);
  }

  TempDir dir;
  graphsim::Simulator sim;
  graphsim::Server server;
};

TEST_CASE("a certificate credential gets the token and the mirror syncs", "[cli][certificate]") {
  TempDir keys;
  const std::string cert = keys.Path("app-cert.pem"), key = keys.Path("app-key.pem");
  Run keygen = RunCli("keygen --app --cert " + cert + " --key " + key);
  INFO(keygen.output);
  REQUIRE(keygen.exit_code == 0);
  CHECK(keygen.output.find("Upload certificate") != std::string::npos);
  CHECK(keygen.output.find("certificate = \"" + cert + "\"") != std::string::npos);
  std::ifstream in(cert);
  std::stringstream pem;
  pem << in.rdbuf();

  CertificateSetup s(pem.str());
  const std::string config = s.WriteConfig(cert, key);
  Run run = RunCli("sync --config " + config + " --once");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  SQLite::Database db(s.dir.Path("m.db"));
  CHECK(db.execAndGet("SELECT count(*) FROM messages").getInt() == 30);

  Run doctor = RunCli("doctor --config " + config);
  INFO(doctor.output);
  CHECK(doctor.output.find("ok    credential   certificate " + cert + " (thumbprint ") !=
        std::string::npos);
  CHECK(doctor.output.find("ok    token        audience https://graph.microsoft.com") !=
        std::string::npos);
}

TEST_CASE("a certificate the app registration does not have is refused (AADSTS700027)",
          "[cli][certificate]") {
  auto registered = rich::GenerateCertificate("registered", 30);
  auto other = rich::GenerateCertificate("other", 30);
  REQUIRE(registered.ok());
  REQUIRE(other.ok());
  CertificateSetup s(registered->certificate_pem);
  const std::string cert = s.dir.Path("app-cert.pem"), key = s.dir.Path("app-key.pem");
  REQUIRE(rich::WriteCertificateFiles(*other, cert, key).ok());
  Run run = RunCli("sync --config " + s.WriteConfig(cert, key) + " --once");
  INFO(run.output);
  CHECK(run.exit_code != 0);
  CHECK(run.output.find("AADSTS700027") != std::string::npos);
}

TEST_CASE("a private key file others can read is refused in one line", "[cli][certificate]") {
  auto generated = rich::GenerateCertificate("app", 30);
  REQUIRE(generated.ok());
  CertificateSetup s(generated->certificate_pem);
  const std::string cert = s.dir.Path("app-cert.pem"), key = s.dir.Path("app-key.pem");
  REQUIRE(rich::WriteCertificateFiles(*generated, cert, key).ok());
  REQUIRE(::chmod(key.c_str(), 0644) == 0);
  const std::string config = s.WriteConfig(cert, key);
  Run run = RunCli("sync --config " + config + " --once");
  INFO(run.output);
  CHECK(run.exit_code != 0);
  CHECK(run.output.find("private key " + key + " is readable by group or others (mode 0644)") !=
        std::string::npos);
}

}  // namespace
}  // namespace graphmirror::test
