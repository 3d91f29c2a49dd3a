#include "volume/loop_device.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

const char kMountinfo[] =
    "24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334556k\n"
    "30 24 7:3 / /srv/mounts/with\\040space rw,relatime shared:5 - ext4 /dev/loop3 rw\n"
    "31 24 7:4 / /srv/mounts/a rw,relatime - ext4 /dev/loop4 rw\n"
    "32 24 7:5 / /srv/mounts/a rw,relatime master:1 shared:2 - ext4 /dev/loop5 rw\n"
    "garbage line\n";

TEST(VolumeMountinfo, ParsesDevicesMountPointsAndOptionalFields) {
  std::vector<MountEntry> mounts = parse_mountinfo(kMountinfo);
  ASSERT_EQ(mounts.size(), 4u);
  EXPECT_EQ(mounts[1].mount_point, "/srv/mounts/with space");
  EXPECT_EQ(mounts[1].major, 7u);
  EXPECT_EQ(mounts[1].minor, 3u);
  EXPECT_EQ(mounts[1].fs_type, "ext4");
  EXPECT_EQ(mounts[1].source, "/dev/loop3");
}

TEST(VolumeMountinfo, FindsTheTopmostOfStackedMounts) {
  std::vector<MountEntry> mounts = parse_mountinfo(kMountinfo);
  std::optional<MountEntry> top = find_mount(mounts, "/srv/mounts/a");
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->minor, 5u);
  EXPECT_FALSE(find_mount(mounts, "/srv/mounts").has_value());
  EXPECT_TRUE(is_device_mounted(mounts, 7, 4));
  EXPECT_FALSE(is_device_mounted(mounts, 7, 6));
}

}  // namespace
}  // namespace berth
