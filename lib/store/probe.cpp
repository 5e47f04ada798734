#include "store/probe.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace mlo {

namespace {
struct Unlink {
  std::filesystem::path path;
  ~Unlink() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};
}  // namespace

std::vector<LinkProbe> probe_link_modes(const std::filesystem::path& from_dir, const std::filesystem::path& to_dir) {
  std::filesystem::create_directories(from_dir);
  std::filesystem::create_directories(to_dir);
  Unlink src{unique_temp_name(from_dir, "probe-src")};
  {
    UniqueFd fd(::open(src.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw_errno("cannot write a probe file in " + from_dir.string(), errno);
    write_all(fd.get(), "mlo link probe\n", src.path.string());
  }
  std::vector<LinkProbe> out;
  for (LinkMode mode : {LinkMode::reflink, LinkMode::hardlink, LinkMode::symlink, LinkMode::copy}) {
    LinkProbe p{mode, false, ""};
    Unlink dst{unique_temp_name(to_dir, "probe-" + to_string(mode))};
    int err = 0;
    if (mode == LinkMode::hardlink) {
      if (::link(src.path.c_str(), dst.path.c_str()) == 0) p.works = true;
      else err = errno;
    } else if (mode == LinkMode::symlink) {
      if (::symlink(std::filesystem::absolute(src.path).c_str(), dst.path.c_str()) == 0) p.works = true;
      else err = errno;
    } else {
      UniqueFd in(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC));
      UniqueFd out_fd(::open(dst.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (!in || !out_fd) {
        err = errno;
      } else if (mode == LinkMode::reflink) {
        if (::ioctl(out_fd.get(), FICLONE, in.get()) == 0) p.works = true;
        else err = errno;
      } else {
        char buf[64];
        ssize_t n = ::read(in.get(), buf, sizeof buf);
        if (n > 0 && ::write(out_fd.get(), buf, static_cast<size_t>(n)) == n) p.works = true;
        else err = errno ? errno : EIO;
      }
    }
    if (!p.works) {
      p.detail = std::strerror(err);
      if (mode == LinkMode::reflink && (err == EOPNOTSUPP || err == EINVAL || err == ENOTTY))
        p.detail = "the file system does not support reflinks (btrfs, XFS and others do)";
      else if (err == EXDEV)
        p.detail = "the work tree and the cache are on different file systems";
    }
    out.push_back(p);
  }
  return out;
}

std::string filesystem_type(const std::filesystem::path& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53: return "ext2/3/4";
    case 0x9123683E: return "btrfs";
    case 0x58465342: return "xfs";
    case 0x01021994: return "tmpfs";
    case 0x794C7630: return "overlayfs";
    case 0x6969: return "nfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    case 0xFF534D42: return "cifs";
    case 0x65735546: return "fuse";
    case 0x4D44: return "vfat";
    case 0x5346544E: return "ntfs";
    case 0x01021997: return "9p";
    default: break;
  }
  std::ostringstream s;
  s << "0x" << std::hex << static_cast<unsigned long>(st.f_type);
  return s.str();
}

}  // namespace mlo
