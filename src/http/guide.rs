//! The setup guides of the provider kinds (docs/*.md, embedded by each kind), rendered to HTML
//! at `/docs/{slug}`: the console links to them, and they are there wherever the binary runs,
//! air-gapped included. They carry the console's style sheet and its Content-Security-Policy.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

use super::console;
use super::errors;
use super::state::AppState;
use crate::providers::Guide;

/// `GET /docs/{slug}`.
pub async fn page(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match state.registry.guide(&slug) {
        Some(guide) => (
            [(header::CONTENT_SECURITY_POLICY, console::POLICY)],
            Html(document(&guide)),
        )
            .into_response(),
        None => errors::no_route().await,
    }
}

fn document(guide: &Guide) -> String {
    let version = console::version();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · license-manager</title>
  <link rel="icon" href="/console/{version}/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/console/{version}/app.css">
</head>
<body>
  <header class="top">
    <a class="brand" href="/">license-manager</a>
    <nav aria-label="Main"><ul><li><a href="/settings/providers">Settings · Providers</a></li></ul></nav>
  </header>
  <main id="main" class="guide">
{body}  </main>
</body>
</html>
"#,
        title = guide.title,
        body = render(guide.markdown),
    )
}

/// The guide's Markdown as HTML. Raw HTML in it is shown as text (`<your organization>` is a
/// placeholder, not a tag); links to the other documents of the repository, which the binary
/// does not serve, keep their text only; headings get ids, for the guide's own `#…` links.
fn render(markdown: &str) -> String {
    let mut dropped_link = false;
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, Options::ENABLE_TABLES)
        .filter_map(|event| match event {
            Event::Html(text) | Event::InlineHtml(text) => Some(Event::Text(text)),
            Event::Start(Tag::Link { ref dest_url, .. }) if !dest_url.starts_with('#') => {
                dropped_link = true;
                None
            }
            Event::End(TagEnd::Link) if dropped_link => {
                dropped_link = false;
                None
            }
            other => Some(other),
        })
        .collect();
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, with_heading_ids(events).into_iter());
    out
}

fn with_heading_ids(mut events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut open: Option<(usize, String)> = None;
    for index in 0..events.len() {
        match &events[index] {
            Event::Start(Tag::Heading { .. }) => open = Some((index, String::new())),
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, title)) = open.as_mut() {
                    title.push_str(text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((start, title)) = open.take()
                    && let Event::Start(Tag::Heading { id, .. }) = &mut events[start]
                {
                    *id = Some(CowStr::from(anchor(&title)));
                }
            }
            _ => {}
        }
    }
    events
}

/// A heading's anchor as GitHub makes it, so that the guide's links work here and there:
/// lowercase, spaces to dashes, other punctuation dropped.
fn anchor(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_the_anchors_the_guide_links_to() {
        let html = render("## When Graph fails\n\nSee [above](#when-graph-fails).\n");
        assert!(html.contains(r#"<h2 id="when-graph-fails">"#), "{html}");
        assert!(html.contains(r##"<a href="#when-graph-fails">"##), "{html}");
    }

    #[test]
    fn raw_html_is_text_and_other_documents_lose_their_links() {
        let html = render("Grant consent for <your organization>; see [api](api.md#codes).\n");
        assert!(html.contains("&lt;your organization&gt;"), "{html}");
        assert!(html.contains("see api."), "{html}");
        assert!(!html.contains("api.md"), "{html}");
    }

    #[test]
    fn tables_are_rendered() {
        let html = render("| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<table>"), "{html}");
    }
}
