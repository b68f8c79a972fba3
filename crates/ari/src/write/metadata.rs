//! Requests to a metadata adapter.

use bytes::BufMut;

use super::tables::{put_tables, TableInfo};
use super::{Encoder, RequestId};
use crate::method::Method;

/// The content of an `NUS` (or, with a TLS client principal, `NUA`)
/// request: a client wants a session.
#[derive(Debug, Clone, Copy)]
pub struct NotifyUser<'a> {
    /// `None` when the client sent no user.
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// The TLS client certificate's principal; `Some` makes the request an
    /// `NUA`.
    pub client_principal: Option<&'a str>,
    /// The HTTP headers of the client's request, names in lower case.
    pub headers: &'a [(&'a str, &'a str)],
}

impl Encoder {
    /// `<id>|NUS|S|<user>|S|<password>|S|<header>|S|<value>…` (or `NUA`
    /// with the principal after the password). The reply is a
    /// [`crate::UserReply`] or an `EA`/`ER`/`EC`/`E` exception.
    pub fn notify_user<B: BufMut>(&self, out: &mut B, id: RequestId, n: &NotifyUser<'_>) {
        let method = if n.client_principal.is_some() {
            Method::Nua
        } else {
            Method::Nus
        };
        let mut l = self.line(out, id, method);
        l.opt_string(n.user).opt_string(n.password);
        if let Some(principal) = n.client_principal {
            l.string(principal);
        }
        for (name, value) in n.headers {
            l.string(name).string(value);
        }
        l.end();
    }

    /// `<id>|GIS|S|<user>|S|<group>|S|<session>`: the items of a group.
    pub fn get_items<B: BufMut>(
        &self,
        out: &mut B,
        id: RequestId,
        user: Option<&str>,
        group: &str,
        session: &str,
    ) {
        let mut l = self.line(out, id, Method::Gis);
        l.opt_string(user).string(group).string(session).end();
    }

    /// `<id>|GSC|S|<user>|S|<group>|S|<schema>|S|<session>`: the fields of a
    /// schema.
    pub fn get_schema<B: BufMut>(
        &self,
        out: &mut B,
        id: RequestId,
        user: Option<&str>,
        group: &str,
        schema: &str,
        session: &str,
    ) {
        let mut l = self.line(out, id, Method::Gsc);
        l.opt_string(user)
            .string(group)
            .string(schema)
            .string(session);
        l.end();
    }

    /// `<id>|GIT|S|<item>…`: item data, answered per item in order.
    pub fn get_item_data<B, I, S>(&self, out: &mut B, id: RequestId, items: I)
    where
        B: BufMut,
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut l = self.line(out, id, Method::Git);
        for item in items {
            l.string(item.as_ref());
        }
        l.end();
    }

    /// `<id>|GUI|S|<user>|S|<item>…`: per-user item data.
    pub fn get_user_item_data<B, I, S>(
        &self,
        out: &mut B,
        id: RequestId,
        user: Option<&str>,
        items: I,
    ) where
        B: BufMut,
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut l = self.line(out, id, Method::Gui);
        l.opt_string(user);
        for item in items {
            l.string(item.as_ref());
        }
        l.end();
    }

    /// `<id>|NUM|S|<user>|S|<session>|S|<message>`: a client message.
    pub fn notify_user_message<B: BufMut>(
        &self,
        out: &mut B,
        id: RequestId,
        user: Option<&str>,
        session: &str,
        message: &str,
    ) {
        let mut l = self.line(out, id, Method::Num);
        l.opt_string(user).string(session).string(message).end();
    }

    /// `<id>|NNS|S|<user>|S|<session>|S|<key>|S|<value>…`: a new session,
    /// with its context (`REMOTE_IP`, `USER_AGENT`, …).
    pub fn notify_new_session<B: BufMut>(
        &self,
        out: &mut B,
        id: RequestId,
        user: Option<&str>,
        session: &str,
        context: &[(&str, Option<&str>)],
    ) {
        let mut l = self.line(out, id, Method::Nns);
        l.opt_string(user).string(session);
        for (key, value) in context {
            l.string(key).opt_string(*value);
        }
        l.end();
    }

    /// `<id>|NSC|S|<session>`: a session closed.
    pub fn notify_session_close<B: BufMut>(&self, out: &mut B, id: RequestId, session: &str) {
        self.line(out, id, Method::Nsc).string(session).end();
    }

    /// `<id>|NNT|S|<user>|S|<session>|<tables>`: new subscriptions, in the
    /// layout of the connection's version. Statistics are never written in
    /// an `NNT`.
    pub fn notify_new_tables<B: BufMut, S: AsRef<str>>(
        &self,
        out: &mut B,
        id: RequestId,
        user: Option<&str>,
        session: &str,
        tables: &[TableInfo<'_, S>],
    ) {
        let mut l = self.line(out, id, Method::Nnt);
        l.opt_string(user).string(session);
        put_tables(&mut l, self.version.table_layout(), tables, false);
        l.end();
    }

    /// `<id>|NTC|S|<session>|<tables>`: subscriptions closed; under 1.9
    /// each table ends with its statistics (none when empty).
    pub fn notify_tables_close<B: BufMut, S: AsRef<str>>(
        &self,
        out: &mut B,
        id: RequestId,
        session: &str,
        tables: &[TableInfo<'_, S>],
    ) {
        let mut l = self.line(out, id, Method::Ntc);
        l.string(session);
        put_tables(&mut l, self.version.table_layout(), tables, true);
        l.end();
    }
}
