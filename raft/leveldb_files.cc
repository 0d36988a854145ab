#include "raft/leveldb_files.h"

#include <leveldb/db.h>
#include <leveldb/env.h>

#include <vector>

#include "common/strings.h"

namespace dnsd::raft {

absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenLevelDb(const std::string& dir, leveldb::Env* env,
                                                         std::string_view what) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  if (env) options.env = env;
  // LevelDB decides "missing" by access(2) on CURRENT, which also says no when only the
  // permission check differs (access(2) ignores capabilities and the effective uid), and then
  // writes a new, empty database over the existing files. A directory that holds a manifest
  // but no CURRENT is a damaged database, never a new one.
  std::vector<std::string> children;
  if (options.env->GetChildren(dir, &children).ok()) {
    bool has_current = false, has_manifest = false;
    for (const std::string& name : children) {
      has_current |= name == "CURRENT";
      has_manifest |= name.starts_with("MANIFEST-");
    }
    if (has_manifest && !has_current) {
      return absl::DataLossError(
          common::StrCat("the ", what, " in ", dir, " is damaged: its CURRENT file is missing"));
    }
  }
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (s.ok()) return std::unique_ptr<leveldb::DB>(raw);
  if (s.IsIOError()) {
    return absl::UnavailableError(
        common::StrCat("cannot open the ", what, " in ", dir, ": ", s.ToString()));
  }
  return absl::DataLossError(
      common::StrCat("the ", what, " in ", dir, " is damaged: ", s.ToString()));
}

std::string StorageFailureMessage(const leveldb::Status& s) {
  if (s.ToString().find("No space left") != std::string::npos) {
    return "no space left on the data disk";
  }
  if (s.IsCorruption()) return "the data files are damaged";
  if (s.IsIOError()) return "I/O error on the data disk";
  return "storage failure";
}

}  // namespace dnsd::raft
