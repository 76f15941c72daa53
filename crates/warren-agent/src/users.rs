//! Users and groups, read from the sandbox's own `/etc/passwd` and `/etc/group`.
//!
//! The agent is a static glibc binary, so NSS (`getpwnam`) is off limits; the image's files are
//! the truth anyway. A user spec is what an OCI image's `User` field holds: `name`, `uid`,
//! `uid:gid`, `name:group`, `uid:group` or empty (root). A numeric uid with no passwd entry is
//! fine: its name is the number, its home `/`, its gid 0 unless given (Docker's rule).

use std::path::Path;

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Name (the uid as text when the uid has no entry).
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids (includes the primary gid).
    pub groups: Vec<u32>,
    /// Home directory.
    pub home: String,
}

/// One `/etc/passwd` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Member login names.
    pub members: Vec<String>,
}

/// Why a user spec does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// No passwd entry with that name.
    #[error("unknown user '{0}'")]
    UnknownUser(String),
    /// No group entry with that name.
    #[error("unknown group '{0}'")]
    UnknownGroup(String),
}

/// Parse passwd text; malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 && f.len() != 6 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// Parse group text; malformed lines are skipped.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The user database of one root filesystem.
#[derive(Debug, Clone, Default)]
pub struct UserDb {
    /// passwd entries.
    pub passwd: Vec<PasswdEntry>,
    /// group entries.
    pub groups: Vec<GroupEntry>,
}

impl UserDb {
    /// Read `/etc/passwd` and `/etc/group` under `root` (missing files = empty).
    pub fn load(root: &Path) -> Self {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
        Self {
            passwd: parse_passwd(&read("etc/passwd")),
            groups: parse_group(&read("etc/group")),
        }
    }

    /// Resolve a user spec.
    pub fn resolve(&self, spec: &str) -> Result<User, UserError> {
        let spec = spec.trim();
        let (user_part, group_part) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let user_part = if user_part.is_empty() { "0" } else { user_part };
        let entry = match user_part.parse::<u32>() {
            Ok(uid) => self
                .passwd
                .iter()
                .find(|e| e.uid == uid)
                .cloned()
                .unwrap_or(PasswdEntry {
                    name: if uid == 0 {
                        "root".into()
                    } else {
                        uid.to_string()
                    },
                    uid,
                    gid: 0,
                    home: if uid == 0 { "/root".into() } else { "/".into() },
                }),
            Err(_) => self
                .passwd
                .iter()
                .find(|e| e.name == user_part)
                .cloned()
                .or_else(|| {
                    (user_part == "root").then(|| PasswdEntry {
                        name: "root".into(),
                        uid: 0,
                        gid: 0,
                        home: "/root".into(),
                    })
                })
                .ok_or_else(|| UserError::UnknownUser(user_part.into()))?,
        };
        let gid = match group_part.filter(|g| !g.is_empty()) {
            None => entry.gid,
            Some(g) => match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => self
                    .groups
                    .iter()
                    .find(|e| e.name == g)
                    .map(|e| e.gid)
                    .ok_or_else(|| UserError::UnknownGroup(g.into()))?,
            },
        };
        let mut groups = vec![gid];
        for g in &self.groups {
            if g.members.contains(&entry.name) && !groups.contains(&g.gid) {
                groups.push(g.gid);
            }
        }
        Ok(User {
            name: entry.name,
            uid: entry.uid,
            gid,
            groups,
            home: entry.home,
        })
    }

    /// Name of a uid, or the number.
    pub fn user_name(&self, uid: u32) -> String {
        self.passwd
            .iter()
            .find(|e| e.uid == uid)
            .map_or_else(|| uid.to_string(), |e| e.name.clone())
    }

    /// Name of a gid, or the number.
    pub fn group_name(&self, gid: u32) -> String {
        self.groups
            .iter()
            .find(|e| e.gid == gid)
            .map_or_else(|| gid.to_string(), |e| e.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        broken line\n\
        user:x:1000:1000:User,,,:/home/user:/bin/bash\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:user\nusers:x:100:daemon,user\nuser:x:1000:\nbad\n";

    fn db() -> UserDb {
        UserDb {
            passwd: parse_passwd(PASSWD),
            groups: parse_group(GROUP),
        }
    }

    #[test]
    fn parses() {
        assert_eq!(parse_passwd(PASSWD).len(), 3);
        let g = parse_group(GROUP);
        assert_eq!(g.len(), 4);
        assert_eq!(g[2].members, ["daemon", "user"]);
    }

    #[test]
    fn specs() {
        let d = db();
        let u = d.resolve("user").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/user"));
        assert_eq!(u.groups, [1000, 27, 100]);
        assert_eq!(d.resolve("").unwrap().name, "root");
        assert_eq!(d.resolve("").unwrap().home, "/root");
        assert_eq!(d.resolve("1000").unwrap().name, "user");
        let u = d.resolve("4242").unwrap();
        assert_eq!(
            (u.name.as_str(), u.uid, u.gid, u.home.as_str()),
            ("4242", 4242, 0, "/")
        );
        let u = d.resolve("4242:77").unwrap();
        assert_eq!((u.gid, u.groups.clone()), (77, vec![77]));
        let u = d.resolve("user:users").unwrap();
        assert_eq!(u.gid, 100);
        assert_eq!(u.groups, [100, 27]);
        assert_eq!(
            d.resolve("nobody"),
            Err(UserError::UnknownUser("nobody".into()))
        );
        assert_eq!(
            d.resolve("user:nogroup"),
            Err(UserError::UnknownGroup("nogroup".into()))
        );
        assert_eq!(d.user_name(1), "daemon");
        assert_eq!(d.user_name(5), "5");
        assert_eq!(d.group_name(27), "sudo");
        // Empty db: root still resolves.
        assert_eq!(UserDb::default().resolve("root").unwrap().uid, 0);
        assert_eq!(UserDb::default().resolve("0").unwrap().name, "root");
    }
}
