//! The fake Qdrant against qdrant-client itself: what the client sends, the fake keeps and
//! answers in the client's own types; what a real server refuses, the fake refuses with the
//! same gRPC code.

use fakes::qdrant::FakeQdrant;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, GetCollectionInfoRequest, OrderBy,
    PointStruct, PointsIdsList, QueryPointsBuilder, ScrollPointsBuilder, SearchPointsBuilder,
    UpsertPointsBuilder, Value, VectorParamsBuilder,
};
use qdrant_client::{Qdrant, QdrantError};
use std::collections::HashMap;

fn client(url: &str, key: Option<&str>) -> Qdrant {
    Qdrant::from_url(url)
        .api_key(key.map(str::to_string))
        .skip_compatibility_check()
        .build()
        .unwrap()
}

fn code(err: QdrantError) -> (tonic::Code, String) {
    match err {
        QdrantError::ResponseError { status } => (status.code(), status.message().to_string()),
        other => panic!("not a response error: {other}"),
    }
}

fn point(id: u64, vector: [f32; 3], stack: &str, day: i64, tags: &[&str]) -> PointStruct {
    let mut payload: HashMap<String, Value> = HashMap::new();
    payload.insert("stack".into(), stack.into());
    payload.insert("day".into(), day.into());
    if !tags.is_empty() {
        let list: Vec<Value> = tags.iter().map(|t| Value::from(*t)).collect();
        payload.insert("tags".into(), list.into());
    }
    PointStruct::new(id, vector.to_vec(), payload)
}

async fn seeded(qdrant: &Qdrant) {
    qdrant
        .create_collection(
            CreateCollectionBuilder::new("c")
                .vectors_config(VectorParamsBuilder::new(3, Distance::Cosine)),
        )
        .await
        .unwrap();
    for (field, kind) in [("stack", FieldType::Keyword), ("day", FieldType::Integer)] {
        qdrant
            .create_field_index(CreateFieldIndexCollectionBuilder::new("c", field, kind).wait(true))
            .await
            .unwrap();
    }
    let points = vec![
        point(1, [1.0, 0.0, 0.0], "java", 20261101, &["a"]),
        point(2, [0.9, 0.1, 0.0], "node", 20261103, &["a", "b"]),
        point(3, [0.0, 1.0, 0.0], "java", 20261102, &[]),
        point(4, [0.0, 0.0, 2.0], "go", 20261104, &["b"]),
    ];
    qdrant.upsert_points(UpsertPointsBuilder::new("c", points).wait(true)).await.unwrap();
}

fn ids<T>(points: &[T], id: impl Fn(&T) -> Option<&qdrant_client::qdrant::PointId>) -> Vec<u64> {
    use qdrant_client::qdrant::point_id::PointIdOptions;
    points
        .iter()
        .map(|p| match id(p).and_then(|i| i.point_id_options.clone()) {
            Some(PointIdOptions::Num(n)) => n,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn queries_rank_by_cosine_inside_the_filter_and_scrolls_page_and_order() {
    let fake = FakeQdrant::start().unwrap();
    let qdrant = client(&fake.url(), None);
    seeded(&qdrant).await;

    let info = qdrant
        .collection_info(GetCollectionInfoRequest { collection_name: "c".into() })
        .await
        .unwrap();
    let info = info.result.unwrap();
    assert_eq!(info.points_count, Some(4));
    assert_eq!(info.payload_schema.len(), 2);

    // Nearest to x, every point: 1 (cosine 1), 2, then the orthogonal ones.
    let all = qdrant
        .query(QueryPointsBuilder::new("c").query(vec![1.0, 0.0, 0.0]).limit(2).with_payload(true))
        .await
        .unwrap();
    assert_eq!(ids(&all.result, |p| p.id.as_ref()), vec![1, 2]);
    assert!((all.result[0].score - 1.0).abs() < 1e-6);
    assert!(all.result[0].payload.contains_key("stack"));

    // The filter is applied before the limit: the best java points, not the best points then java.
    let java = Filter::must([Condition::matches("stack", vec!["java".to_string()])]);
    let found = qdrant
        .query(QueryPointsBuilder::new("c").query(vec![1.0, 0.0, 0.0]).filter(java).limit(5))
        .await
        .unwrap();
    assert_eq!(ids(&found.result, |p| p.id.as_ref()), vec![1, 3]);
    assert!(found.result[0].payload.is_empty(), "no payload unless asked");

    // should, must_not, is_empty and a list payload.
    let filter = Filter {
        should: vec![
            Condition::matches("tags", vec!["b".to_string()]),
            Condition::is_empty("tags"),
        ],
        must_not: vec![Condition::matches("stack", vec!["go".to_string()])],
        ..Default::default()
    };
    let found = qdrant
        .search_points(
            SearchPointsBuilder::new("c", vec![0.0, 1.0, 0.0], 10).filter(filter.clone()),
        )
        .await
        .unwrap();
    assert_eq!(ids(&found.result, |p| p.id.as_ref()), vec![3, 2]);
    let counted = qdrant.count(CountPointsBuilder::new("c").filter(filter)).await.unwrap();
    assert_eq!(counted.result.unwrap().count, 2);

    // Pages in id order, then newest first by an indexed number.
    let page = qdrant.scroll(ScrollPointsBuilder::new("c").limit(3)).await.unwrap();
    assert_eq!(ids(&page.result, |p| p.id.as_ref()), vec![1, 2, 3]);
    let next = page.next_page_offset.unwrap();
    let rest = qdrant.scroll(ScrollPointsBuilder::new("c").limit(3).offset(next)).await.unwrap();
    assert_eq!(ids(&rest.result, |p| p.id.as_ref()), vec![4]);
    assert_eq!(rest.next_page_offset, None);
    let newest = qdrant
        .scroll(ScrollPointsBuilder::new("c").limit(2).order_by(OrderBy {
            key: "day".into(),
            direction: Some(qdrant_client::qdrant::Direction::Desc as i32),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(ids(&newest.result, |p| p.id.as_ref()), vec![4, 2]);

    // Replaced by id, deleted by id and by filter.
    qdrant
        .upsert_points(
            UpsertPointsBuilder::new("c", vec![point(1, [0.0, 0.0, 1.0], "go", 1, &[])]).wait(true),
        )
        .await
        .unwrap();
    assert_eq!(fake.points("c"), Some(4));
    qdrant
        .delete_points(
            DeletePointsBuilder::new("c").points(PointsIdsList { ids: vec![3.into()] }).wait(true),
        )
        .await
        .unwrap();
    let go = Filter::must([Condition::matches("stack", vec!["go".to_string()])]);
    qdrant.delete_points(DeletePointsBuilder::new("c").points(go).wait(true)).await.unwrap();
    assert_eq!(fake.points("c"), Some(1));
    assert!(fake.calls().iter().any(|c| c.method == "Points/Query" && c.filter.is_some()));
}

#[tokio::test]
async fn it_refuses_what_qdrant_refuses() {
    let fake = FakeQdrant::start().unwrap();
    let qdrant = client(&fake.url(), None);
    let missing = qdrant.query(QueryPointsBuilder::new("none").query(vec![1.0])).await.unwrap_err();
    assert_eq!(code(missing).0, tonic::Code::NotFound);
    seeded(&qdrant).await;
    let again = qdrant
        .create_collection(
            CreateCollectionBuilder::new("c")
                .vectors_config(VectorParamsBuilder::new(3, Distance::Cosine)),
        )
        .await
        .unwrap_err();
    assert_eq!(code(again).0, tonic::Code::AlreadyExists);
    let wrong = qdrant
        .upsert_points(UpsertPointsBuilder::new(
            "c",
            vec![PointStruct::new(9, vec![1.0, 2.0], HashMap::<String, Value>::new())],
        ))
        .await
        .unwrap_err();
    let (status, message) = code(wrong);
    assert_eq!(status, tonic::Code::InvalidArgument);
    assert!(message.contains("expected dim: 3, got 2"), "{message}");
    assert_eq!(fake.points("c"), Some(4), "a refused batch changes nothing");
    let unindexed = qdrant
        .scroll(
            ScrollPointsBuilder::new("c")
                .order_by(OrderBy { key: "stack".into(), ..Default::default() }),
        )
        .await
        .unwrap_err();
    assert_eq!(code(unindexed).0, tonic::Code::InvalidArgument);

    let keyed = FakeQdrant::with_api_key("right-key").unwrap();
    let without = client(&keyed.url(), None).list_collections().await.unwrap_err();
    assert_eq!(code(without).0, tonic::Code::Unauthenticated);
    let (status, message) =
        code(client(&keyed.url(), Some("wrong-key")).list_collections().await.unwrap_err());
    assert_eq!(
        (status, message.as_str()),
        (tonic::Code::Unauthenticated, "Invalid API key or JWT")
    );
    assert!(client(&keyed.url(), Some("right-key")).list_collections().await.is_ok());
}
