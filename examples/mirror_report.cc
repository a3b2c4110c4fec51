// mirror_report: syncs the mailboxes of a graphmirror config once, then prints what the
// mirror holds, each mailbox's newest messages and, if given, a search.
//
//   mirror_report graphmirror.toml [words to search]

#include <graphmirror/engine.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONFIG [words to search]\n", argv[0]);
    return 2;
  }
  auto config = graphmirror::LoadConfig(argv[1]);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  auto engine = graphmirror::Engine::Open(*config);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  size_t changes = 0;
  (*engine)->SetObserver(
      [&changes](const std::vector<graphmirror::Change>& batch) { changes += batch.size(); });
  if (graphmirror::Status s = (*engine)->SyncOnce(); !s.ok()) {
    std::fprintf(stderr, "sync: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("synced: %zu rows written\n", changes);

  auto status = (*engine)->GetStatus();
  if (!status.ok()) return 1;
  for (const auto& c : status->collections) {
    std::printf("%s %s: %lld items\n", c.user_id.c_str(),
                std::string(graphmirror::CollectionName(c.collection)).c_str(),
                static_cast<long long>(c.items));
  }
  for (const auto& mailbox : config->mailboxes) {
    graphmirror::MessageQuery newest;
    newest.user_id = mailbox.user;
    newest.limit = 3;
    auto messages = (*engine)->Messages(newest);
    if (!messages.ok()) return 1;
    for (const auto& m : *messages) {
      std::printf("  %s  %s  %s\n", m.received_at.c_str(), m.from_address.c_str(),
                  m.subject.c_str());
    }
  }
  if (argc > 2) {
    std::string words;
    for (int i = 2; i < argc; ++i) words += std::string(i > 2 ? " " : "") + argv[i];
    auto hits = (*engine)->Search(words);
    if (!hits.ok()) {
      std::fprintf(stderr, "search: %s\n", hits.status().ToString().c_str());
      return 1;
    }
    std::printf("search \"%s\": %zu hits\n", words.c_str(), hits->size());
    for (const auto& m : *hits)
      std::printf("  %s  %s\n", m.subject.c_str(), m.body_preview.c_str());
  }
  return 0;
}
