#pragma once
// Downloading dataset files from the Hugging Face Hub into a local cache.
//
// GET {endpoint}/datasets/{repo}/resolve/{revision}/{path}, saved as
// {cache}/hub/{repo}/{revision}/{path}. A transfer goes to "{file}.partial" first and is renamed only
// when complete (and its sha256 matches, when known), so an interrupted download is resumed with a
// Range request and a half-written file is never mistaken for a cached one.
//
// Environment (HubSettings::from_environment):
//   HF_ENDPOINT     the Hub's base URL (default https://huggingface.co)
//   HF_TOKEN        bearer token for gated datasets; sent only to the endpoint's host, never logged or stored
//   RBENCH_CACHE    cache root (default ~/.cache/rbench); files go under its hub/ folder
//   RBENCH_OFFLINE  "1": never touch the network, serve only what the cache holds
#include <filesystem>
#include <string>

#include "common/cache.h"

namespace rbench {

struct HubFile {
  HubFile(std::string repo, std::string path, std::string revision = "main", std::string sha256 = "")
      : repo(std::move(repo)), path(std::move(path)), revision(std::move(revision)), sha256(std::move(sha256)) {}

  std::string repo;      // "owner/name", a dataset repository
  std::string path;      // inside the repository, e.g. "test.jsonl"
  std::string revision;  // a branch, tag or commit
  std::string sha256;    // expected content hash; "" when not known
};

struct HubSettings {
  std::string endpoint = "https://huggingface.co";
  std::filesystem::path cache_dir;  // the hub/ folder itself
  std::string token;
  bool offline = false;

  static HubSettings from_environment();
};

class HubClient {
 public:
  explicit HubClient(HubSettings settings);

  // The local path of `file`, downloading it first unless it is cached. Throws UserError naming the
  // repository and path: not found (404), access denied (401/403: gated, set HF_TOKEN), other HTTP
  // errors, a hash mismatch, the network unreachable, or offline mode with the file not cached.
  std::filesystem::path fetch(const HubFile& file) const;

  std::filesystem::path cache_path(const HubFile& file) const;
  std::string url(const HubFile& file) const;

 private:
  void download(const HubFile& file, const std::filesystem::path& target) const;

  HubSettings settings_;
};

}  // namespace rbench
