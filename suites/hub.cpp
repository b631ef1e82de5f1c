#include "suites/hub.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/hash.h"

namespace rbench {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxAttempts = 5;
constexpr size_t kErrorBodyLimit = 512;  // enough of an error page to quote in a message

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("libcurl failed to initialise");
  });
}

// Repository ids, revisions and paths become cache paths: refuse anything that could climb out of the cache.
void check_path_part(std::string_view what, std::string_view value, const HubFile& file) {
  const bool climbs = value.empty() || value.starts_with('/') || value == ".." || value.starts_with("../") ||
                      value.ends_with("/..") || value.find("/../") != std::string_view::npos;
  if (climbs)
    throw UserError(fmt::format("Hugging Face Hub: invalid {} '{}' for {}/{}", what, value, file.repo, file.path));
}

std::string escape_segments(CURL* curl, std::string_view text, bool keep_slashes) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = keep_slashes ? std::min(text.find('/', start), text.size()) : text.size();
    const std::string_view segment = text.substr(start, end - start);
    char* escaped = curl_easy_escape(curl, segment.data(), static_cast<int>(segment.size()));
    out += escaped;
    curl_free(escaped);
    if (end == text.size()) break;
    out += '/';
    start = end + 1;
  }
  return out;
}

struct CurlHandle {
  CurlHandle() : curl(curl_easy_init()) {
    if (curl == nullptr) throw std::runtime_error("libcurl: cannot create a handle");
  }
  ~CurlHandle() { curl_easy_cleanup(curl); }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  CURL* curl;
};

// Holds an exclusive lock on a file for as long as it lives, so two processes never append to the
// same .partial file.
class DownloadLock {
 public:
  explicit DownloadLock(const fs::path& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) == 0) return;
    if (fd_ >= 0) ::close(fd_);
    throw UserError(fmt::format("cannot lock {}", path.string()));
  }
  ~DownloadLock() { ::close(fd_); }
  DownloadLock(const DownloadLock&) = delete;
  DownloadLock& operator=(const DownloadLock&) = delete;

 private:
  int fd_;
};

// One HTTP GET appended to the .partial file.
struct Transfer {
  CURL* curl = nullptr;
  fs::path partial;
  curl_off_t resume_from = 0;
  std::FILE* out = nullptr;
  bool status_checked = false;
  bool status_ok = false;
  long status = 0;
  uint64_t bytes_written = 0;
  std::string error_body;
  CURLcode result = CURLE_OK;

  ~Transfer() {
    if (out != nullptr) std::fclose(out);
  }

  // The body of a 200/206 goes to the file; a 200 answering a Range request restarts it from byte 0.
  size_t accept(const char* data, size_t size) {
    if (!status_checked) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      status_ok = status == 200 || status == 206;
      status_checked = true;
      if (status_ok) {
        out = std::fopen(partial.c_str(), status == 200 ? "wb" : "ab");
        if (out == nullptr) return 0;  // aborts the transfer; reported below
      }
    }
    if (!status_ok) {
      error_body.append(data, std::min(size, kErrorBodyLimit - std::min(kErrorBodyLimit, error_body.size())));
      return size;
    }
    if (std::fwrite(data, 1, size, out) != size) return 0;
    bytes_written += size;
    return size;
  }

  static size_t on_data(char* data, size_t size, size_t count, void* self) {
    return static_cast<Transfer*>(self)->accept(data, size * count);
  }
};

bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : size;
}

}  // namespace

HubSettings HubSettings::from_environment() {
  HubSettings settings;
  if (const std::string endpoint = environment("HF_ENDPOINT"); !endpoint.empty()) settings.endpoint = endpoint;
  while (settings.endpoint.ends_with('/')) settings.endpoint.pop_back();
  settings.cache_dir = rbench_cache_dir() / "hub";
  settings.token = environment("HF_TOKEN");
  const std::string offline = environment("RBENCH_OFFLINE");
  settings.offline = !offline.empty() && offline != "0";
  return settings;
}

HubClient::HubClient(HubSettings settings) : settings_(std::move(settings)) {}

fs::path HubClient::cache_path(const HubFile& file) const {
  check_path_part("repository", file.repo, file);
  check_path_part("revision", file.revision, file);
  check_path_part("path", file.path, file);
  return settings_.cache_dir / file.repo / file.revision / file.path;
}

std::string HubClient::url(const HubFile& file) const {
  ensure_curl_initialised();
  CurlHandle handle;
  // A revision such as "refs/convert/parquet" is one URL segment; a path keeps its folders.
  return fmt::format("{}/datasets/{}/resolve/{}/{}", settings_.endpoint, escape_segments(handle.curl, file.repo, true),
                     escape_segments(handle.curl, file.revision, false), escape_segments(handle.curl, file.path, true));
}

fs::path HubClient::fetch(const HubFile& file) const {
  const fs::path target = cache_path(file);
  if (fs::exists(target)) {
    if (file.sha256.empty() || sha256_file_hex(target) == file.sha256) return target;
    if (settings_.offline) {
      throw UserError(fmt::format("cached {} does not match its expected sha256 {}, and RBENCH_OFFLINE is set",
                                  target.string(), file.sha256));
    }
    fs::remove(target);  // corrupted or stale: fetch it again
  }
  if (settings_.offline) {
    throw UserError(fmt::format("RBENCH_OFFLINE is set and {} (dataset {}, revision {}) is not in the cache at {}",
                                file.path, file.repo, file.revision, target.string()));
  }
  fs::create_directories(target.parent_path());
  const DownloadLock lock(fs::path(target.string() + ".lock"));
  if (!fs::exists(target)) download(file, target);  // another process may have finished it meanwhile
  return target;
}

void HubClient::download(const HubFile& file, const fs::path& target) const {
  ensure_curl_initialised();
  const std::string address = url(file);
  const fs::path partial = target.string() + ".partial";
  const std::string what = fmt::format("{} of dataset {} (revision {})", file.path, file.repo, file.revision);

  for (int attempt = 1;; ++attempt) {
    CurlHandle handle;
    Transfer transfer;
    transfer.curl = handle.curl;
    transfer.partial = partial;
    transfer.resume_from = static_cast<curl_off_t>(file_size_or_zero(partial));

    curl_easy_setopt(handle.curl, CURLOPT_URL, address.c_str());
    curl_easy_setopt(handle.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle.curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle.curl, CURLOPT_FOLLOWLOCATION, 1L);  // large files redirect to a CDN
    curl_easy_setopt(handle.curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(handle.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle.curl, CURLOPT_USERAGENT, "rbench");
    curl_easy_setopt(handle.curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(handle.curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // a stalled transfer fails after a minute
    curl_easy_setopt(handle.curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(handle.curl, CURLOPT_RESUME_FROM_LARGE, transfer.resume_from);
    curl_easy_setopt(handle.curl, CURLOPT_WRITEFUNCTION, &Transfer::on_data);
    curl_easy_setopt(handle.curl, CURLOPT_WRITEDATA, &transfer);
    if (!settings_.token.empty()) {
      // Bearer auth that libcurl sends only to the original host, never to a redirect target.
      curl_easy_setopt(handle.curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(handle.curl, CURLOPT_XOAUTH2_BEARER, settings_.token.c_str());
    }
    transfer.result = curl_easy_perform(handle.curl);
    curl_easy_getinfo(handle.curl, CURLINFO_RESPONSE_CODE, &transfer.status);
    if (transfer.out != nullptr) {
      std::fclose(transfer.out);
      transfer.out = nullptr;
    }

    if (transfer.result == CURLE_OK && (transfer.status == 200 || transfer.status == 206)) break;
    if (transfer.status == 416) {  // the .partial already holds the whole file, or is longer: start over
      fs::remove(partial);
      if (attempt < kMaxAttempts) continue;
    }
    if (transfer.status == 404) {
      throw UserError(fmt::format("Hugging Face Hub: dataset {} has no file {} at revision {} (HTTP 404 from {})",
                                  file.repo, file.path, file.revision, address));
    }
    if (transfer.status == 401 || transfer.status == 403) {
      throw UserError(
          fmt::format("Hugging Face Hub: access to {} denied (HTTP {} from {}); the dataset may be "
                      "gated or private: accept its terms on the Hub and set HF_TOKEN",
                      what, transfer.status, address));
    }
    if (transfer.result == CURLE_OK && transfer.status >= 400 && transfer.status < 500) {
      throw UserError(fmt::format("Hugging Face Hub: HTTP {} for {} from {}: {}", transfer.status, what, address,
                                  transfer.error_body));
    }
    const bool server_error = transfer.result == CURLE_OK && transfer.status >= 500;
    if ((retryable(transfer.result) || server_error) && attempt < kMaxAttempts) {
      // Resume at once after a transfer that made progress; otherwise back off before asking again.
      if (transfer.bytes_written == 0) std::this_thread::sleep_for(std::chrono::seconds(attempt));
      continue;
    }
    if (file_size_or_zero(partial) == 0) fs::remove(partial);
    const std::string cause =
        server_error ? fmt::format("HTTP {}", transfer.status) : std::string(curl_easy_strerror(transfer.result));
    throw UserError(
        fmt::format("Hugging Face Hub: cannot download {} from {}: {} (after {} attempts; for offline "
                    "use pass --data-dir or set RBENCH_DATA)",
                    what, address, cause, attempt));
  }

  if (!file.sha256.empty()) {
    const std::string actual = sha256_file_hex(partial);
    if (actual != file.sha256) {
      fs::remove(partial);
      throw UserError(fmt::format("Hugging Face Hub: {} has sha256 {}, expected {}", what, actual, file.sha256));
    }
  }
  fs::rename(partial, target);
}

}  // namespace rbench
