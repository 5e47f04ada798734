// The remote's trash: `mlo gc --remote` moves packs it removes to
// trash/<batch>_<id>.{pack,idx} instead of deleting them (one folder level,
// as WebDAV listings go one level deep), and killed pushes' leftovers
// likewise (kept for the retention, never restored: a pack without its
// index, a partial temp file, is unreadable), where
// <batch> is "<unix seconds>-<random hex>" (when they were moved). Readers
// only look under packs/, so a trashed pack is invisible until restored.
// Works on every backend: a move is a copy (get + put) then a remove,
// ordered so that a kill at any point leaves each blob readable in the
// trash, under packs/, or in both (never in neither).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "remote/backend.h"

namespace mlo::remote {

std::string new_trash_batch(std::int64_t now);
// The time a batch name records (0 when it is not a batch name).
std::int64_t trash_batch_time(const std::string& batch);

// Copies pack `id` (pack, then index) into the batch, then removes the
// live index (readers stop seeing it) and the live pack.
void move_pack_to_trash(Backend& backend, const std::string& batch, const std::string& id);

// Moves one blob (a killed push's leftover) into the batch: copy, then
// remove. False when it was gone already.
bool move_to_trash(Backend& backend, const std::string& batch, const std::string& key);

struct TrashBatch {
  std::string name;
  std::int64_t time = 0;
  std::vector<std::string> packs;  // pack ids with both files in the trash
  std::vector<std::string> keys;   // every key of the batch
  std::uint64_t bytes = 0;
};
std::vector<TrashBatch> list_trash(Backend& backend);

struct TrashResult {
  std::size_t batches = 0;
  std::size_t packs = 0;
  std::uint64_t bytes = 0;
  std::vector<TrashBatch> chosen;  // the batches restored or deleted (or that would be)
};
// Asked with what would be deleted, before anything is: false stops there.
using TrashConfirm = std::function<bool(const TrashResult&)>;
// Puts back the packs of every batch moved at or after `since` (pack first,
// then its index: visible only when whole), then removes them from the trash.
TrashResult restore_trash(Backend& backend, std::int64_t since, bool dry_run);
// Deletes for good every batch moved at or before `before`, once `confirm`
// (when given) agrees.
TrashResult empty_trash(Backend& backend, std::int64_t before, bool dry_run, const TrashConfirm& confirm = {});

}  // namespace mlo::remote
