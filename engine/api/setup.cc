#include "graphmirror/setup.h"

#include "engine/ops/doctor.h"
#include "engine/rich/keygen.h"

namespace graphmirror {

std::vector<DoctorFinding> Doctor(const Config& config, Clock* clock) {
  std::vector<DoctorFinding> out;
  for (auto& f : ops::RunDoctor(config, clock != nullptr ? clock : SystemClock::Default())) {
    const auto level = f.level == ops::Finding::Level::kOk     ? DoctorFinding::Level::kOk
                       : f.level == ops::Finding::Level::kWarn ? DoctorFinding::Level::kWarn
                                                               : DoctorFinding::Level::kFail;
    out.push_back({level, std::move(f.check), std::move(f.text)});
  }
  return out;
}

Result<std::string> WriteKeyPair(const std::string& common_name, int days,
                                 const std::string& certificate_path,
                                 const std::string& private_key_path) {
  auto generated = rich::GenerateCertificate(common_name, days);
  if (!generated.ok()) return generated.status();
  if (Status s = rich::WriteCertificateFiles(*generated, certificate_path, private_key_path);
      !s.ok()) {
    return s;
  }
  return generated->thumbprint;
}

}  // namespace graphmirror
