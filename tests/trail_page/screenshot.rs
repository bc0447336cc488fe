//! The graph in pixels: a screenshot of the refused checkout, read back
//! and measured. The colours are the page's own (`page.css`): node fills
//! for allow and deny, and the edge colour.
//!
//! With `SEAM_WRITE_SCREENSHOT=1` the same screenshot is saved as the
//! README's `docs/trail-page.png`.

use std::path::PathBuf;

use super::browser::screenshot;
use super::example::*;
use super::pixels::{Area, Image, hex};

const WIDTH: u32 = 1440;
const HEIGHT: u32 = 980;
/// A node is 470×150 px; its fill, less the text on it, is well above this.
const NODE_FILL_MIN: usize = 30_000;

#[tokio::test]
async fn the_refused_checkout_is_drawn_as_three_boxes_and_two_edges_with_the_denial_in_red() {
    let example = example();
    let txn = text(&example.refused[0], "/token/txn");
    let shot = tempfile::tempdir().unwrap();
    let png = shot.path().join("trail-page.png");
    screenshot(&deep_link(&serve().await, txn), &png, WIDTH, HEIGHT).await;
    let image = Image::read(&png);
    assert_eq!(
        (image.width, image.height),
        (WIDTH as usize, HEIGHT as usize)
    );

    // Two allowed hops and one denied, origin at the top.
    let allowed = image.areas(hex("#e3f4e5"), NODE_FILL_MIN);
    let denied = image.areas(hex("#fde4e1"), NODE_FILL_MIN);
    assert_eq!(allowed.len(), 2, "allow-coloured boxes: {allowed:?}");
    assert_eq!(denied.len(), 1, "deny-coloured boxes: {denied:?}");
    let (first, second, refused) = (allowed[0], allowed[1], denied[0]);
    assert!(first.bottom < second.top && second.bottom < refused.top);
    for node in [first, second, refused] {
        let (width, height) = (node.right - node.left, node.bottom - node.top);
        assert!((460..=472).contains(&width), "{node:?}");
        assert!((140..=152).contains(&height), "{node:?}");
    }

    // The denial's border is drawn in the deny colour, thicker than the
    // allows' green.
    let border = Area {
        pixels: 0,
        left: refused.left.saturating_sub(4),
        top: refused.top.saturating_sub(4),
        right: refused.right + 4,
        bottom: refused.bottom + 4,
    };
    assert!(image.count_in(hex("#c62828"), 8, &border) > 2 * (470 + 150) * 2);
    assert!(image.count_in(hex("#2e7d32"), 8, &border) == 0);

    // Two edges between the rows, inside the graph: the edge colour fills
    // each gap between boxes (3 px wide, GAP_Y tall, plus the arrowhead).
    let graph = Area {
        pixels: 0,
        left: first.left.min(refused.left),
        top: first.bottom,
        right: first.right.max(refused.right),
        bottom: refused.top,
    };
    let edge = hex("#1d5fbf");
    for (upper, lower) in [(first, second), (second, refused)] {
        let gap = Area {
            pixels: 0,
            top: upper.bottom + 1,
            bottom: lower.top - 1,
            ..graph
        };
        let drawn = image.count_in(edge, 8, &gap);
        assert!(drawn >= 3 * 60, "edge pixels between rows: {drawn}");
    }
    let everywhere = image.count(edge, 8);
    let inside = image.count_in(edge, 8, &graph);
    assert!(
        inside * 10 >= everywhere * 9,
        "{inside} of {everywhere} edge pixels in the graph"
    );

    if std::env::var("SEAM_WRITE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&png, docs.join("trail-page.png")).unwrap();
    }
}
